// The fault schedule and its injection: a lane's faults in turn, in
// stretches of a few seconds, each switched on in the gate's KV and queue and
// in the origin, and logged so the judge can tell which faults an answer may
// have met.
import { sleep } from '../../tests/e2e/harness.mjs';

/** KV failure rules per fault (harness failKv: get/put/delete; put may name a value prefix). */
const KV_RULES = {
  'kv-down': { get: true, put: true, delete: true },
  'kv-reads': { get: true },
  'kv-writes': { put: true, delete: true },
  'kv-done': { put: 'done' },
};

/**
 * Turns a fault on (or, with null, off). A stretch is logged from before it
 * takes effect until after it stopped, so an answer judged against the log
 * can never have met a fault the log does not show.
 */
export async function setFault(lane, name) {
  const ending = lane.fault ? lane.faultLog.at(-1) : null;
  if (name) lane.faultLog.push({ name, start: Date.now(), end: Infinity });
  lane.fault = name;
  // Both are no-ops on a gate without the switch.
  lane.gate.failKv(KV_RULES[name] ?? {});
  lane.gate.failQueue(name === 'queue-refuse');
  await lane.origin.setFault(name?.startsWith('origin-') ? name : null);
  if (ending) ending.end = Date.now();
}

/** Whether a fault among `names` was on at any moment of [t0, t1]. */
export function overlapped(lane, names, t0, t1) {
  return lane.faultLog.some((f) => names.includes(f.name) && f.start <= t1 && f.end >= t0);
}

export async function runFaults(lane, from, until) {
  await sleep(Math.max(0, from - Date.now()));
  let turn = 0;
  while (Date.now() < until) {
    const name = lane.spec.faults[turn % lane.spec.faults.length];
    turn += 1;
    const length = 2000 + lane.faultRandom() * 2500;
    if (Date.now() + length > until) break;
    await setFault(lane, name);
    await sleep(length);
    await setFault(lane, null);
    await sleep(2500 + lane.faultRandom() * 3000);
  }
}
