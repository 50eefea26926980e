// The shape of the one state object the prelude's modules share (created by state.js, filled
// in setup order by install.js). A module reads another module's exports only through it.

/** What the current execution is; "idle" between executions, "import" while modules load. */
type Phase = "import" | "query" | "mutation" | "action" | "idle";

/** A queued async syscall of a query or mutation: [op, args, resolve, reject]. */
type QueuedSyscall = [op: string, args: string, resolve: (text: string) => void, reject: (error: Error) => void];

/**
 * An operation an action started, for the host to run: [id, kind, ...arguments] with kind
 * "syscall", "fetch", "cancel", "timer" or "clearTimer" (see `ActionOp` in action.rs).
 */
type ActionOp = [id: number, kind: string, ...args: unknown[]];

/** An action's operation awaiting its result: [resolve, reject, isFetch, name]. */
type PendingOp = [resolve: (value: any) => void, reject: (error: Error) => void, isFetch: boolean, name: string];

/** An action's armed timer. */
interface ActionTimer {
  cb: unknown;
  args: unknown[];
  delay: number;
  repeat: boolean;
}

/** The control object returned to the Rust side (see control.js). */
type Control = ReturnType<typeof createControl>;

interface PreludeState {
  // ---- for the life of the realm -------------------------------------------------------
  /** The native bindings. */
  native: Native;
  /** The realm's global object. */
  global: typeof globalThis;
  /** `Date` and `Promise` as they were before any module replaced a global. */
  RealDate: DateConstructor;
  RealPromise: PromiseConstructor;
  /** Defines a writable, configurable, non-enumerable property (as built-ins are). */
  define(obj: object, name: PropertyKey, value: unknown): void;
  /** Module namespaces registered by the host, by module path. */
  modules: Map<string, any>;

  // ---- per-execution state, reset by control.begin/end ---------------------------------
  phase: Phase;
  /** Log lines of this execution ("[LEVEL] text"). */
  logs: string[];
  /** `console.time` starts by label (real clock). */
  consoleTimers: Map<string, number>;
  /** Queries and mutations: async syscalls in call order; `qhead` is the next one to hand out. */
  queue: (QueuedSyscall | undefined)[];
  qhead: number;
  /** The async syscall the host is answering. */
  current: QueuedSyscall | null | undefined;
  /**
   * Actions: every async syscall, fetch and timer becomes an entry here that the host takes
   * with `control.takeOps()`; it settles them in whatever order they complete
   * (`settleOp`, `settleFetch`, `fireTimer`).
   */
  actionOps: ActionOp[];
  nextOpId: number;
  nextTimerId: number;
  /** Operations awaiting their result, by op id. */
  pendingOps: Map<number, PendingOp>;
  /** Armed timers, by timer id. */
  actionTimers: Map<number, ActionTimer>;
  /** HTTP actions: the response body, until the host takes it. */
  httpBody: Uint8Array | null;

  // ---- exports of the modules, in setup order -------------------------------------------
  console: ReturnType<typeof setupConsole>;
  crypto: ReturnType<typeof setupCrypto>;
  globals: ReturnType<typeof setupGlobals>;
  encoding: ReturnType<typeof setupEncoding>;
  url: ReturnType<typeof setupUrl>;
  events: ReturnType<typeof setupEvents>;
  blob: ReturnType<typeof setupBlob>;
  headers: ReturnType<typeof setupHeaders>;
  formData: ReturnType<typeof setupFormData>;
  fetch: ReturnType<typeof setupFetch>;
}
