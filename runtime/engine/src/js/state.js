// @ts-check
// Owns: the one state object every prelude module shares (its shape is declared in state_types.d.ts).
// It holds the native bindings, the intrinsics captured before any module replaces a global,
// the per-execution state the host resets through the control object (phase, logs, the
// syscall queue, the action's operations), and, once each module has run, that module's
// exports for later modules. Modules share nothing else: each file declares only its setup
// function (this one also the helpers below, functions of the state), and install.js calls the
// setup functions in a fixed order.

/**
 * @param {Native} native the bindings isolate.rs installs (`install_native`)
 * @returns {PreludeState} with every module slot still empty; install.js fills them in order
 */
function createState(native) {
  /** @type {PreludeState["define"]} */
  const define = (obj, name, value) => {
    Object.defineProperty(obj, name, { value, writable: true, configurable: true, enumerable: false });
  };
  /** @type {Partial<PreludeState>} */
  const state = {
    native,
    global: globalThis,
    RealDate: Date,
    RealPromise: Promise,
    define,
    // ---- per-execution state (reset by control.begin/end) ----
    phase: "import",
    logs: [],
    consoleTimers: new Map(),
    queue: [],
    qhead: 0,
    current: null,
    actionOps: [],
    nextOpId: 0,
    nextTimerId: 0,
    pendingOps: new Map(),
    actionTimers: new Map(),
    httpBody: null,
    // ---- for the life of the isolate ----
    modules: new Map(),
  };
  return /** @type {PreludeState} */ (state);
}

/**
 * The error for a web API that only actions may use (fetch, timers), worded for the phase.
 * @param {PreludeState} S
 * @param {string} what
 */
function notInQueriesAndMutations(S, what) {
  if (S.phase === "import") return new Error(what + " unsupported at import time");
  return new Error("Can't use " + what + " in queries and mutations. Please consider using an action. See https://docs.convex.dev/functions/actions for more details.");
}

/**
 * The kinds of function the current phase is, in words ("queries", "actions", ...).
 * @param {PreludeState} S
 */
function phaseWords(S) {
  const phase = S.phase;
  return phase === "query" ? "queries" : phase === "mutation" ? "mutations" : phase === "action" ? "actions" : "queries and mutations";
}
