// The memory checks: samples of each mode's workerd RSS and of hookgate's
// own isolate (V8 heap after a forced GC plus Wasm memory), and the verdict
// on them at the end (bounded growth, or levelling off).
import { ISOLATE_GROWTH_LIMIT, MEMORY_GROWTH_LIMIT, fmtMB } from './shared.mjs';

/** Records this lane's workerd RSS from `now` (one `workerdProcesses()` read for every lane). */
export function sampleMemory(lane, phase, now) {
  const rss = lane.pids.reduce((sum, pid) => sum + (now.get(pid) ?? 0), 0);
  lane.memory.push({ at: Date.now(), rss, phase });
}

export async function sampleIsolate(lane, phase) {
  try {
    lane.isolate.push({ at: Date.now(), phase, ...(await lane.gate.isolateMemory()) });
  } catch (error) {
    lane.violation(`the gate isolate's memory could not be read (${phase}): ${error.message}`);
  }
}

/**
 * RSS: the sample after warm-up against the last one. Growth beyond the
 * limit fails unless it is levelling off: an unbounded leak grows at a
 * steady rate under a steady load, while warm-up (V8 heaps sized up, the
 * storage services' caches filling) slows down. So it fails when the
 * second half of the load (after warm-up) still grew by three quarters of
 * what the first half grew, or more. The isolate's own memory (after a
 * forced GC) has a plain limit.
 */
export function memoryVerdict(lane) {
  const samples = lane.memory;
  const warmAt = samples.findIndex((s) => s.phase === 'warm');
  // Halves over the load (from warm-up to the end of the load); growth to
  // the very last sample, after the drain.
  const window = samples.slice(Math.max(0, warmAt)).filter((s) => s.phase !== 'drain' && s.phase !== 'end');
  const start = window[0];
  const end = samples.at(-1);
  const loadEnd = window.at(-1);
  const max = samples.reduce((m, s) => Math.max(m, s.rss), 0);
  const at = (fraction) => {
    const t = start.at + (loadEnd.at - start.at) * fraction;
    // the median of the samples within 5 s of t, against a GC's saw-tooth
    const near = window.filter((s) => Math.abs(s.at - t) <= 5000).map((s) => s.rss).sort((a, b) => a - b);
    return near.length ? near[Math.floor(near.length / 2)] : start.rss;
  };
  const firstHalf = at(0.5) - at(0);
  const secondHalf = at(1) - at(0.5);
  const halfMinutes = (loadEnd.at - start.at) / 2 / 60_000;
  const verdict = {
    start: start.rss,
    max,
    end: end.rss,
    growth: end.rss - start.rss,
    firstRate: halfMinutes > 0 ? firstHalf / halfMinutes : 0,
    lastRate: halfMinutes > 0 ? secondHalf / halfMinutes : 0,
    levelling: secondHalf <= 0 || secondHalf < 0.75 * firstHalf,
  };
  if (verdict.growth > MEMORY_GROWTH_LIMIT && !verdict.levelling) {
    lane.violation(
      `workerd memory grew from ${fmtMB(verdict.start)} to ${fmtMB(verdict.end)} (limit +${fmtMB(MEMORY_GROWTH_LIMIT)}) and is not levelling off (${fmtMB(verdict.firstRate)}/min in the first half after warm-up, ${fmtMB(verdict.lastRate)}/min in the second)`,
    );
  }
  const isolateStart = lane.isolate.find((s) => s.phase === 'warm') ?? lane.isolate[0];
  const isolateEnd = lane.isolate.at(-1);
  if (isolateStart && isolateEnd) {
    verdict.isolate = {
      start: isolateStart.total,
      end: isolateEnd.total,
      max: lane.isolate.reduce((m, s) => Math.max(m, s.total), 0),
      heap: isolateEnd.heapUsed,
      wasm: isolateEnd.wasm,
    };
    if (isolateEnd.total - isolateStart.total > ISOLATE_GROWTH_LIMIT) {
      lane.violation(`the gate isolate's memory (after GC) grew from ${fmtMB(isolateStart.total)} to ${fmtMB(isolateEnd.total)} (limit +${fmtMB(ISOLATE_GROWTH_LIMIT)})`);
    }
  }
  return verdict;
}
