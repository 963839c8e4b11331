// Probes on the page: tiny measured requests to a list of configurations over the page's websocket
// (`probe.start` → one `probe.result` per configuration → `probe.done`; proxy/probe.py). The one owner
// of that exchange on the page: the readiness check (panels/readiness.js) and the serving-path ramp
// (pages/compare.js) both go through runProbe.

import { FRAME } from "./protocol.js";
import { streamId } from "./live.js";

const pending = new WeakMap(); // socket → Map(probe id → {results, onResult, resolve, reject})

function registry(socket) {
  let probes = pending.get(socket);
  if (!probes) {
    probes = new Map();
    pending.set(socket, probes);
    socket.on(FRAME.PROBE_RESULT, (frame) => {
      const probe = probes.get(frame.probe);
      if (!probe || !Number.isInteger(frame.index)) return;
      probe.results[frame.index] = frame;
      probe.onResult(frame);
    });
    socket.on(FRAME.PROBE_DONE, (frame) => {
      const probe = probes.get(frame.probe);
      if (!probe) return;
      probes.delete(frame.probe);
      socket.closeStream(frame.probe);
      probe.resolve({ results: probe.results, done: frame });
    });
  }
  return probes;
}

/**
 * Probe `configs` (each {label, mode, model, params, extra, system, messages}); `options`: {max_tokens,
 * cold_ms, timeout_ms, concurrency, warm}. `onResult(frame)` as each configuration answers. Resolves with
 * {results, done}; rejects with an Error saying why nothing was checked (refused, not connected, dropped).
 */
export function runProbe(socket, configs, options = {}, onResult = () => {}) {
  const probes = registry(socket);
  const id = streamId("probe");
  return new Promise((resolve, reject) => {
    // A refusal of the whole probe comes as chat.error with the probe id as its stream.
    socket.openStream(id, (frame) => {
      if (frame.type !== FRAME.ERROR && frame.type !== FRAME.SOCKET_LOST) return;
      probes.delete(id);
      socket.closeStream(id);
      reject(new Error(frame.type === FRAME.ERROR ? frame.message : "The connection dropped before every configuration answered."));
    });
    probes.set(id, { results: configs.map(() => null), onResult, resolve, reject });
    if (!socket.send({ type: FRAME.PROBE_START, probe: id, configs, ...options })) {
      probes.delete(id);
      socket.closeStream(id);
      reject(new Error("Not connected: nothing was checked."));
    }
  });
}
