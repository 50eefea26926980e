// @ts-check
// Owns: `setTimeout`, `setInterval`, their `clear*`, and `queueMicrotask`. In actions a timer
// is an operation in `S.actionOps` that the host arms and fires (`control.fireTimer`); queries
// and mutations may not use timers.

/** @param {PreludeState} S */
function setupTimers(S) {
  const g = S.global;
  const define = S.define;
  function startTimer(cb, delay, args, repeat, what) {
    if (S.phase !== "action") throw notInQueriesAndMutations(S, what);
    const id = ++S.nextTimerId;
    const ms = Math.max(0, Number(delay) || 0);
    S.actionTimers.set(id, { cb, args, delay: ms, repeat });
    S.actionOps.push([id, "timer", ms]);
    return id;
  }
  function stopTimer(id) {
    if (S.phase !== "action") return;
    const n = Number(id);
    if (S.actionTimers.delete(n)) S.actionOps.push([n, "clearTimer"]);
  }
  define(g, "setTimeout", function setTimeout(cb, delay, ...args) { return startTimer(cb, delay, args, false, "setTimeout"); });
  define(g, "setInterval", function setInterval(cb, delay, ...args) { return startTimer(cb, delay, args, true, "setInterval"); });
  define(g, "clearTimeout", function clearTimeout(id) { stopTimer(id); });
  define(g, "clearInterval", function clearInterval(id) { stopTimer(id); });
  define(g, "queueMicrotask", function queueMicrotask(cb) {
    if (typeof cb !== "function") throw new TypeError("queueMicrotask: callback must be a function");
    S.RealPromise.resolve().then(() => cb());
  });
}
