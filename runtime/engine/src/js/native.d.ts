// Declarations for what the prelude gets from outside JavaScript: the native bindings
// isolate.rs builds (`install_native`) and passes to the prelude's default export, and the
// globals the prelude itself installs that its modules then look up by name at call time
// (so, as in the browser, an app that replaces them changes what these calls do).

/** The native bindings behind the prelude's globals (isolate.rs, `install_native`). */
interface Native {
  /** Maps a QuickJS stack to the app's original `.ts` positions, without prelude frames. */
  mapStack(stack: string): string;
  /** A synchronous syscall: the host's JSON answer, or a thrown Error. */
  syscall(op: string, args: string): string;
  /** Rethrows uncatchably if an engine-fatal condition (stack overflow, out of memory, abort) was caught. */
  checkCaught(stackOverflow: boolean): void;
  /** A digest of `data` with "SHA-256", "SHA-384" or "SHA-512". */
  digest(name: string, data: ArrayBuffer): ArrayBuffer;
  /** HMAC of `data` under `key` with the named hash. */
  hmac(name: string, key: ArrayBuffer, data: ArrayBuffer): ArrayBuffer;
  /** The next number of the execution's random generator (seeded in queries and mutations). */
  random(): number;
  /** `n` (at most 65536) bytes of the execution's random generator. */
  randomBytes(n: number): ArrayBuffer;
  /** Milliseconds since the epoch: frozen per execution in queries and mutations, real in actions. */
  now(): number;
  /** The real clock, for `console.time` durations only. */
  wallNow(): number;
  /** `performance.now()`: a stepped counter in queries and mutations, real in actions. */
  perfNow(): number;
}

// Installed by timers.js and encoding.js; looked up by name by events.js and host.js.
declare function setTimeout(callback: (...args: any[]) => void, ms?: number, ...args: any[]): number;
declare function btoa(data: string): string;
declare function atob(data: string): string;
