// Points the function table's entries for wasm-bindgen's closure invoke shims
// at one of them (scripts/build.sh runs it on wasm-bindgen's output, before
// wasm-opt), so wasm-opt drops the others: about 4 KB of the module, 1 KiB of
// the gzipped upload.
//
// Each shim is in the table only because the descriptor of a closure type
// (`describe_invoke` in wasm-bindgen's convert/closures.rs) names its index,
// for JS glue that would call a Rust closure through the table. wasm-bindgen
// runs the descriptors and removes them, but the table keeps its entries,
// since it is exported. Rust never calls a shim itself, and hookgate's glue
// makes no closures: its one call through the table is the abort handler's.
// The script checks that last point in the JS and stops the build when it no
// longer holds.
//
// Only entries change: the table's size, every other entry and every index
// stay, so no function pointer in the module changes meaning.
//
//   node scripts/prune-table.mjs index_bg.wasm index.js
import { readFileSync, writeFileSync } from 'node:fs';
import { encodeLeb, leb } from './wasm-leb.mjs';

const [wasmPath, jsPath] = process.argv.slice(2);
const SHIM = /^wasm_bindgen::convert::closures::_::invoke::/;

function fail(message) {
  console.error(`prune-table: ${message}`);
  process.exit(1);
}

const js = readFileSync(jsPath, 'utf8');
const tableUses = js.split('__wbindgen_export').length - 1;
if (tableUses !== 1 || !/\.__abort_handler\b/.test(js) || /makeMutClosure|makeClosure|CLOSURE_DTORS/.test(js)) {
  fail(`the JS reaches the function table other than for the abort handler (${tableUses} uses); a shim may be called`);
}

const bytes = readFileSync(wasmPath);
if (bytes.readUInt32LE(0) !== 0x6d736100) fail(`${wasmPath} is not a wasm module`);

// The sections, and the function names (the "name" section's first
// subsection).
const sections = [];
const names = new Map();
for (let at = 8; at < bytes.length; ) {
  const id = bytes[at];
  const [size, start] = leb(bytes, at + 1);
  const end = start + size;
  sections.push({ id, at, start, end });
  if (id === 0) {
    const [len, nameAt] = leb(bytes, start);
    if (bytes.toString('utf8', nameAt, nameAt + len) === 'name') {
      for (let p = nameAt + len; p < end; ) {
        const sub = bytes[p];
        const [subSize, subStart] = leb(bytes, p + 1);
        if (sub === 1) {
          let [count, q] = leb(bytes, subStart);
          for (let i = 0; i < count; i++) {
            let index;
            let nameLen;
            [index, q] = leb(bytes, q);
            [nameLen, q] = leb(bytes, q);
            names.set(index, bytes.toString('utf8', q, q + nameLen));
            q += nameLen;
          }
        }
        p = subStart + subSize;
      }
    }
  }
  at = end;
}
if (names.size === 0) fail('the module has no function names');

const elems = sections.filter((s) => s.id === 9);
if (elems.length !== 1) fail(`expected one element section, found ${elems.length}`);
const elem = elems[0];
let [segments, p] = leb(bytes, elem.start);
if (segments !== 1) fail(`expected one element segment, found ${segments}`);
// An active segment of the first table, at a constant offset, of function
// indices: what wasm-ld writes.
if (bytes[p] !== 0) fail(`unexpected element segment flags ${bytes[p]}`);
p += 1;
if (bytes[p] !== 0x41) fail('the element segment is not at a constant offset');
p += 1;
while (bytes[p] & 0x80) p += 1;
p += 1;
if (bytes[p] !== 0x0b) fail('the element segment offset is not a lone constant');
const offsetEnd = p + 1;
let count;
[count, p] = leb(bytes, offsetEnd);
const entries = [];
for (let i = 0; i < count; i++) {
  let index;
  [index, p] = leb(bytes, p);
  entries.push(index);
}
if (p !== elem.end) fail('the element section did not end where its size says');

const shims = entries.filter((index) => SHIM.test(names.get(index) ?? ''));
if (shims.length === 0) fail('no closure invoke shim in the table');
const kept = shims[0];
const pruned = entries.map((index) => (SHIM.test(names.get(index) ?? '') ? kept : index));

const content = Buffer.concat([
  bytes.subarray(elem.start, offsetEnd),
  encodeLeb(pruned.length),
  ...pruned.map(encodeLeb),
]);
writeFileSync(
  wasmPath,
  Buffer.concat([
    bytes.subarray(0, elem.at),
    Buffer.from([9]),
    encodeLeb(content.length),
    content,
    bytes.subarray(elem.end),
  ]),
);
