// hookgate's Worker entry, bundled by scripts/build.sh around the output of
// wasm-bindgen (./index.js). It only hands each event to Rust.
//
// It stands where worker-build's shim would: that one wraps the entry and
// every class in a Proxy (constructed, and trapped on each property read,
// per request), which showed in the CPU profile of a small delivery. What
// it is for is kept, more cheaply: after a critical error (a trap, from a
// panic or running out of memory) the wasm module is set up again before
// the next event, and a request caught in the trap is answered 500 rather
// than left hanging.
import * as wasm from './index.js';

export { DeliveryLog, ReplayShard } from './index.js';

// The executor of every handler's work (src/glue/runtime.rs) steps tasks
// through these two exports.
wasm.installStepper(wasm.taskStep, wasm.taskFinish);

// Set after a trap; the module is set up again before the next event. (A
// trap also schedules wasm-bindgen's own re-initialisation, see
// src/glue/runtime.rs; this covers a trap seen only here.)
let criticalError = false;

function critical(error) {
  if (error instanceof WebAssembly.RuntimeError) {
    console.error('hookgate: critical error in the wasm module; it is set up again before the next event', error);
    criticalError = true;
  }
}

function ready() {
  if (criticalError) {
    wasm.__wbg_reset_state();
    criticalError = false;
  }
}

addEventListener('error', (event) => critical(event.error));

// The answer when the module trapped before answering: Outcome::Internal's
// (src/outcome.rs), which a native test holds this copy to.
const INTERNAL_ERROR =
  '{"type":"about:blank","title":"Internal Server Error","status":500,"reason":"internal-error","detail":"The gate could not compute a signature; nothing was forwarded. Retry later."}';

function internalError() {
  return new Response(INTERNAL_ERROR, {
    status: 500,
    headers: { 'content-type': 'application/problem+json', 'cache-control': 'no-store' },
  });
}

export default {
  fetch(request, env, ctx) {
    ready();
    // The answer is settled by the Rust entry, or, when its work (under
    // waitUntil) traps, here.
    let settle;
    const answer = new Promise((resolve) => {
      settle = resolve;
    });
    try {
      const work = wasm.fetch(request, env, settle);
      if (work) {
        ctx.waitUntil(
          work.catch((error) => {
            critical(error);
            settle(internalError());
          }),
        );
      }
    } catch (error) {
      critical(error);
      return internalError();
    }
    return answer;
  },

  async queue(batch, env, ctx) {
    ready();
    try {
      return await wasm.queue(batch, env, ctx);
    } catch (error) {
      critical(error);
      throw error;
    }
  },

  async scheduled(controller, env, ctx) {
    ready();
    try {
      return await wasm.scheduled(controller, env, ctx);
    } catch (error) {
      critical(error);
      throw error;
    }
  },
};
