// @ts-check
// Owns: the setup order of the prelude, the module the engine evaluates (as "emvex:prelude")
// for every realm that runs Convex functions. The files of this folder are joined into that one
// module at build time, in the order of `PRELUDE_FILES` in js.rs (this file last); each declares
// one setup function, and nothing is shared between them but the state object `S`.
//
// Setup order (each module may use the exports of the modules before it; the globals are
// defined in this order):
//   state, console, determinism, crypto, timers, globals, encoding, url, structured_clone,
//   events, subtle, blob, headers, form_data, fetch, host, control.
// Nothing here is reachable by user code except the globals the modules install.

/**
 * Installs the global environment of Convex functions and returns the control object.
 * @param {Native} native the bindings isolate.rs builds (`install_native`)
 * @returns {Control}
 */
export default function install(native) {
  "use strict";
  const S = createState(native);
  S.console = setupConsole(S);
  setupDeterminism(S);
  S.crypto = setupCrypto(S);
  setupTimers(S);
  S.globals = setupGlobals(S);
  S.encoding = setupEncoding(S);
  S.url = setupUrl(S);
  setupStructuredClone(S);
  S.events = setupEvents(S);
  setupSubtle(S);
  S.blob = setupBlob(S);
  S.headers = setupHeaders(S);
  S.formData = setupFormData(S);
  S.fetch = setupFetch(S);
  setupHost(S);
  return createControl(S);
}
