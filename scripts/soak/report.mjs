// The report: a mode's tables (requests by kind, answers by status and
// reason, faults injected, events and arrivals, memory) and its PASS or
// FAIL with the violations, printed once the checks have run.
import { memoryVerdict } from './memory.mjs';
import { ISOLATE_GROWTH_LIMIT, MB, MEMORY_GROWTH_LIMIT, fmtMB } from './shared.mjs';

/** A plain text table: the first column aligned left, the others right. */
function table(rows, header) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `  ${cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ')}`.trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function report(lane, timing, { rate, verbose }) {
  const out = [];
  const { stats } = lane;
  out.push(`\n== ${lane.spec.label}`);
  out.push(`   load ${(timing.load / 1000).toFixed(0)} s at ~${rate} new requests/s, drain ${(timing.drain / 1000).toFixed(1)} s, seed ${timing.seed}`);
  const kinds = new Map();
  for (const entry of lane.answers) {
    const name = entry.kind === 'forged' ? `forged: ${entry.sub}` : entry.kind === 'valid' ? `valid: ${entry.sub === 'first' ? 'first attempt' : entry.sub === 'retry' ? 'sender retry' : 'burst copy'}` : entry.kind;
    kinds.set(name, (kinds.get(name) ?? 0) + 1);
  }
  out.push('\n  requests by kind');
  out.push(table([...kinds].sort((a, b) => a[0].localeCompare(b[0])), ['kind', 'requests']));
  const answers = new Map();
  for (const entry of lane.answers) {
    const name = `${entry.status} ${entry.reason}`;
    const row = answers.get(name) ?? { valid: 0, duplicate: 0, replay: 0, forged: 0 };
    row[entry.kind] += 1;
    answers.set(name, row);
  }
  out.push('\n  answers by status and reason');
  out.push(
    table(
      [...answers].sort((a, b) => a[0].localeCompare(b[0])).map(([name, r]) => [name, r.valid, r.duplicate, r.replay, r.forged, r.valid + r.duplicate + r.replay + r.forged]),
      ['answer', 'valid', 'duplicate', 'replay', 'forged', 'total'],
    ),
  );
  const faults = new Map();
  for (const f of lane.faultLog) {
    const row = faults.get(f.name) ?? { count: 0, ms: 0 };
    row.count += 1;
    row.ms += (Number.isFinite(f.end) ? f.end : Date.now()) - f.start;
    faults.set(f.name, row);
  }
  out.push('\n  injected faults');
  out.push(table([...faults].map(([name, r]) => [name, r.count, `${(r.ms / 1000).toFixed(1)} s`]), ['fault', 'stretches', 'total']));
  const incidentCounts = {};
  for (const set of lane.incidents.values()) {
    for (const name of set) {
      const group = name.startsWith('OriginStatus') ? 'OriginStatus(…)' : name;
      incidentCounts[group] = (incidentCounts[group] ?? 0) + 1;
    }
  }
  out.push("\n  events (from the origin's record)");
  const rows = [
    ['valid events sent', stats.valid],
    ['accepted by the gate (200/202)', stats.accepted],
    ['arrived at the origin', stats.arrived],
    ['arrived exactly once', stats.exactlyOnce],
    [`duplicate arrivals${lane.spec.exact ? ' (must be 0)' : ' (allowed in kv mode)'}`, stats.duplicates],
    ['  of them after a logged done-mark/release failure', stats.duplicatesExplained],
    ['origin requests refused by a fault (not arrivals)', stats.refusedAttempts],
    ['duplicates/replays taken as new deliveries (200/202)', stats.replaysThrough],
    ['forged requests that reached the origin (must be 0)', stats.forgedArrived],
    ['unknown requests at the origin (must be 0)', stats.unknownArrived],
  ];
  for (const [name, count] of Object.entries(incidentCounts).sort()) rows.push([`keys with logged incident ${name}`, count]);
  if (lane.spec.queue) {
    for (const [reason, count] of Object.entries(lane.consumer).sort()) rows.push([`queue consumer attempts: ${reason}`, count]);
    const byRoute = {};
    for (const id of lane.deadEver) byRoute[id.split(' ')[0]] = (byRoute[id.split(' ')[0]] ?? 0) + 1;
    const routes = Object.entries(byRoute).sort().map(([route, n]) => `${route.replace('/hooks/', '')} ${n}`).join(', ');
    rows.push(['dead letters listed by the admin API during the load', `${lane.deadEver.size}${routes ? ` (${routes})` : ''}`]);
    rows.push(['dead letters retried via the admin API at the end', lane.operatorRetries]);
  }
  out.push(table(rows, ['', 'count']));
  const m = memoryVerdict(lane);
  const signed = (bytes) => `${bytes >= 0 ? '+' : ''}${fmtMB(bytes)}`;
  out.push(
    `\n  workerd memory (RSS of its process, ${lane.memory.length} samples): start ${fmtMB(m.start)} (after warm-up), max ${fmtMB(m.max)}, end ${fmtMB(m.end)} (${signed(m.growth)}; limit ${signed(MEMORY_GROWTH_LIMIT)} unless levelling off)`,
  );
  out.push(`  growth rate: ${fmtMB(m.firstRate)}/min in the first half of the load after warm-up, ${fmtMB(m.lastRate)}/min in the second (${m.levelling ? 'levelling off' : 'not levelling off'})`);
  const t0 = lane.memory[0].at;
  const step = Math.max(1, Math.floor(lane.memory.length / 10));
  const points = lane.memory.filter((_, i) => i % step === 0 || i === lane.memory.length - 1);
  out.push(`  over time: ${points.map((s) => `${((s.at - t0) / 1000).toFixed(0)}s ${(s.rss / MB).toFixed(0)}`).join(', ')} (MB)`);
  if (m.isolate) {
    out.push(
      `  hookgate's isolate after a forced GC (V8 heap + Wasm memory): start ${fmtMB(m.isolate.start)}, max ${fmtMB(m.isolate.max)}, end ${fmtMB(m.isolate.end)} (heap ${fmtMB(m.isolate.heap)}, Wasm ${fmtMB(m.isolate.wasm)}; ${signed(m.isolate.end - m.isolate.start)}, limit ${signed(ISOLATE_GROWTH_LIMIT)})`,
    );
  }
  if (lane.violations.length === 0) {
    out.push(`\n  PASS: ${lane.mode}`);
  } else {
    const shown = verbose ? lane.violations : lane.violations.slice(0, 20);
    out.push(`\n  FAIL: ${lane.mode}: ${lane.violations.length} violation(s)`);
    for (const v of shown) out.push(`    - ${v}`);
    if (shown.length < lane.violations.length) out.push(`    … ${lane.violations.length - shown.length} more (--verbose shows all)`);
  }
  console.log(out.join('\n'));
}
