// @ts-check
// Owns: `DOMException`, `Event`, `EventTarget`, `AbortSignal` and `AbortController`.
// `AbortSignal.timeout` arms a timer through the global `setTimeout` (so only actions can).

/** @param {PreludeState} S */
function setupEvents(S) {
  const g = S.global;
  const define = S.define;
  const domCodes = { IndexSizeError: 1, NotFoundError: 8, NotSupportedError: 9, InvalidStateError: 11, SyntaxError: 12, InvalidAccessError: 15, TypeMismatchError: 17, SecurityError: 18, NetworkError: 19, AbortError: 20, QuotaExceededError: 22, TimeoutError: 23, DataCloneError: 25 };
  class DOMException extends Error {
    #name; #code;
    constructor(message = "", name = "Error") {
      super(String(message));
      this.#name = String(name);
      this.#code = domCodes[this.#name] || 0;
    }
    get name() { return this.#name; }
    get code() { return this.#code; }
  }
  define(g, "DOMException", DOMException);
  let eventTarget;
  class Event {
    #type; #target = null; #defaultPrevented = false; #cancelable;
    constructor(type, init = {}) {
      if (arguments.length === 0) throw new TypeError("Failed to construct 'Event': 1 argument required, but only 0 present.");
      this.#type = String(type);
      this.#cancelable = !!init.cancelable;
    }
    get type() { return this.#type; }
    get target() { return this.#target; }
    get currentTarget() { return this.#target; }
    get cancelable() { return this.#cancelable; }
    get defaultPrevented() { return this.#defaultPrevented; }
    preventDefault() { if (this.#cancelable) this.#defaultPrevented = true; }
    stopPropagation() {}
    stopImmediatePropagation() {}
    static { eventTarget = (e, t) => { e.#target = t; }; }
  }
  class EventTarget {
    #listeners = new Map(); // type -> [{ cb, once }]
    addEventListener(type, cb, options) {
      if (cb === null || cb === undefined) return;
      const once = typeof options === "object" && options !== null && !!options.once;
      const list = this.#listeners.get(String(type)) || [];
      if (!list.some((l) => l.cb === cb)) list.push({ cb, once });
      this.#listeners.set(String(type), list);
      if (typeof options === "object" && options !== null && options.signal) {
        options.signal.addEventListener("abort", () => this.removeEventListener(type, cb));
      }
    }
    removeEventListener(type, cb) {
      const list = this.#listeners.get(String(type));
      if (list) this.#listeners.set(String(type), list.filter((l) => l.cb !== cb));
    }
    dispatchEvent(event) {
      eventTarget(event, this);
      const handler = this["on" + event.type];
      const list = (this.#listeners.get(event.type) || []).slice();
      if (typeof handler === "function") handler.call(this, event);
      for (const l of list) {
        if (l.once) this.removeEventListener(event.type, l.cb);
        if (typeof l.cb === "function") l.cb.call(this, event);
        else if (l.cb && typeof l.cb.handleEvent === "function") l.cb.handleEvent(event);
      }
      return !event.defaultPrevented;
    }
  }
  define(g, "Event", Event);
  define(g, "EventTarget", EventTarget);
  let abortSignal;
  class AbortSignal extends EventTarget {
    #aborted = false; #reason = undefined;
    constructor(key) {
      super();
      if (key !== abortKey) throw new TypeError("Illegal constructor");
      this.onabort = null;
    }
    get aborted() { return this.#aborted; }
    get reason() { return this.#reason; }
    throwIfAborted() { if (this.#aborted) throw this.#reason; }
    static abort(reason) {
      const s = new AbortSignal(abortKey);
      abortSignal(s, reason);
      return s;
    }
    static timeout(ms) {
      const s = new AbortSignal(abortKey);
      setTimeout(() => abortSignal(s, new DOMException("The operation timed out.", "TimeoutError")), ms);
      return s;
    }
    static any(signals) {
      const s = new AbortSignal(abortKey);
      for (const x of signals) {
        if (x.aborted) { abortSignal(s, x.reason); return s; }
        x.addEventListener("abort", () => abortSignal(s, x.reason), { once: true });
      }
      return s;
    }
    static {
      abortSignal = (s, reason) => {
        if (s.#aborted) return;
        s.#aborted = true;
        s.#reason = reason === undefined ? new DOMException("This operation was aborted", "AbortError") : reason;
        s.dispatchEvent(new Event("abort"));
      };
    }
    get [Symbol.toStringTag]() { return "AbortSignal"; }
  }
  const abortKey = Symbol("AbortSignal");
  class AbortController {
    #signal = new AbortSignal(abortKey);
    get signal() { return this.#signal; }
    abort(reason) { abortSignal(this.#signal, reason); }
  }
  define(g, "AbortSignal", AbortSignal);
  define(g, "AbortController", AbortController);

  return { DOMException };
}
