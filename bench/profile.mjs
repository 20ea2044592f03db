// `npm run profile -- [--target hookgate|js-webcrypto|DIR] [--size 1024] [--seconds 5] [--connections 8]`
// A V8 CPU profile of one Worker in workerd under concurrent load, with KV
// replaced by a Map in the isolate (local KV's own CPU would drown the
// Worker's). hookgate is profiled from a build that keeps the wasm name
// section (made here, in bench/out/profile-build), so wasm frames have
// names. The profile goes to bench/out/<target>-<size>.cpuprofile (open it
// in Chrome's DevTools); a summary of self time per function, and per kind
// (wasm, JS glue, runtime), is printed.
//
// How: Miniflare's inspectorPort, the target from GET /json, then
// Profiler.enable / start / stop over the `ws` package. Sampling also counts
// time a request waits, so the load is concurrent and KV is out of the way.
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { devtools } from '../tests/e2e/harness.mjs';
import { LUA, OUT, ROOT, log, makeBody, namedBuild, presign, runWrk, startOrigin, startTarget } from './common.mjs';

const { values: options } = parseArgs({
  options: {
    target: { type: 'string', default: 'hookgate' },
    size: { type: 'string', default: '1024' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '8' },
    'skip-build': { type: 'boolean', default: false },
    top: { type: 'string', default: '40' },
    // As in bench/run.mjs: the deployed runtime's console, or local workerd's.
    console: { type: 'string', default: 'production' },
  },
});
const SIZE = Number(options.size);
const SECONDS = Number(options.seconds);

function scriptOf(target) {
  if (target === 'hookgate') return { scriptPath: namedBuild('profile-build', options['skip-build']), wasm: true };
  if (target === 'js-webcrypto') return { scriptPath: `${ROOT}bench/workers/webcrypto.mjs`, wasm: false };
  if (target === 'passthrough') return { scriptPath: `${ROOT}bench/workers/passthrough.mjs`, wasm: false };
  return { scriptPath: `${target.replace(/\/$/, '')}/index.js`, wasm: true };
}

/** Self time per function and per kind, from a V8 profile. */
function summarize(profile) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  const deltas = profile.timeDeltas;
  let total = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const frame = node.callFrame;
    const name = frame.functionName || `(anonymous ${frame.url.split('/').pop()}:${frame.lineNumber})`;
    const us = deltas[i] ?? 0;
    total += us;
    self.set(name, (self.get(name) ?? 0) + us);
  });
  const kind = (name) => {
    if (name === '(idle)') return 'idle (waiting)';
    if (name === '(program)' || name === '(garbage collector)') return 'runtime (program, GC)';
    if (/^\$?[a-z_].*(::|hookgate|worker|wasm_bindgen|js_sys|core|alloc|sha2|hmac|serde|dlmalloc|base64|std)/.test(name) || name.startsWith('$')) return 'wasm';
    return 'JS (glue, runtime built-ins)';
  };
  const kinds = new Map();
  for (const [name, us] of self) kinds.set(kind(name), (kinds.get(kind(name)) ?? 0) + us);
  const busy = total - (kinds.get('idle (waiting)') ?? 0);
  const lines = [`sampled ${(total / 1e6).toFixed(2)} s, busy ${(busy / 1e6).toFixed(2)} s`, '', '| kind | self ms | share of busy |', '|---|---:|---:|'];
  for (const [name, us] of [...kinds].sort((a, b) => b[1] - a[1])) {
    lines.push(`| ${name} | ${(us / 1000).toFixed(1)} | ${name.startsWith('idle') ? '—' : `${((us / busy) * 100).toFixed(1)} %`} |`);
  }
  lines.push('', '| function | self ms | share of busy |', '|---|---:|---:|');
  for (const [name, us] of [...self].filter(([n]) => n !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, Number(options.top))) {
    lines.push(`| \`${name.slice(0, 110).replaceAll('|', '\\|')}\` | ${(us / 1000).toFixed(1)} | ${((us / busy) * 100).toFixed(1)} % |`);
  }
  return lines.join('\n');
}

async function main() {
  mkdirSync(OUT, { recursive: true });
  const script = scriptOf(options.target);
  const origin = await startOrigin();
  const productionConsole = options.console === 'production';
  const { url, mf } = await startTarget(script, { originUrl: origin.url, memoryKv: true, productionConsole, inspect: true });
  try {
    writeFileSync(`${OUT}deliveries.lua`, LUA);
    const body = makeBody(SIZE);
    const bodyFile = `${OUT}profile-body-${SIZE}.bin`;
    writeFileSync(bodyFile, body);
    const warmup = presign(body, 3000, `profile-${SIZE}-warmup`);
    const ids = presign(body, 40000, `profile-${SIZE}`);
    await runWrk(url, 2, warmup, bodyFile, Number(options.connections));
    const session = await devtools(
      (await mf.getInspectorURL()).port,
      (targets) => targets.find((t) => t.title?.includes('target') || t.url?.includes('target')) ?? targets[0],
      { timeoutMs: 60_000 },
    );
    await session.send('Profiler.enable');
    await session.send('Profiler.setSamplingInterval', { interval: 50 });
    await session.send('Profiler.start');
    const run = await runWrk(url, SECONDS, ids, bodyFile, Number(options.connections));
    const { profile } = await session.send('Profiler.stop');
    session.close();
    const name = options.target.includes('/') ? 'variant' : options.target;
    const file = `${OUT}${name}-${SIZE}.cpuprofile`;
    writeFileSync(file, JSON.stringify(profile));
    console.log(`${options.target}, ${SIZE} bytes, ${run.rps.toFixed(0)} req/s under load (${run.errors} errors); profile in ${file}\n`);
    console.log(summarize(profile));
  } finally {
    await mf.dispose();
    origin.close();
  }
}

await main();
