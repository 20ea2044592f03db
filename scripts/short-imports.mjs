// Gives the wasm module's imports from wasm-bindgen's own JS ("./index_bg.js")
// short names, in the module and in the JS that provides them (scripts/build.sh
// runs it on wasm-bindgen's output, before esbuild and wasm-opt). wasm-bindgen
// names each import after its function with a hash (__wbg_get_2080c49015e35254):
// about eighty of them, in the module's import section and again as the keys of
// the JS's imports object, where gzip finds nothing to share in the hashes.
//
// The modules' names get short ones too: "./index_bg.js" and the snippet's
// path (./snippets/hookgate-<hash>/src/js/edge.js), written with every import
// in the module and as keys of the imports object (the snippet's once for
// each of wasm-bindgen's imports of it, all the same module), become "a" and
// "b" in both.
//
// The module's exports that the JS reads only as `wasm.NAME` (wasm-bindgen's
// __wbindgen_malloc, __wbg_deliverylog_free, deliverylog_fetch, …) are renamed
// with short names the same way; one whose name the JS also uses otherwise (fetch, the
// name of its JS function too) keeps it.
//
// Only names change: what each import is, its order and its type stay. Any
// name that is not exactly one key in the JS stops the build, so a change in
// wasm-bindgen's output cannot pass unnoticed.
//
//   node scripts/short-imports.mjs index_bg.wasm index.js
import { readFileSync, writeFileSync } from 'node:fs';
import { encodeLeb, leb } from './wasm-leb.mjs';

const [wasmPath, jsPath] = process.argv.slice(2);
const MODULE = './index_bg.js';
const SNIPPET = /^\.\/snippets\/hookgate-[0-9a-f]+\/src\/js\/edge\.js$/;
const SHORT_MODULE = 'a';
const SHORT_SNIPPET = 'b';

function fail(message) {
  console.error(`short-imports: ${message}`);
  process.exit(1);
}

const bytes = readFileSync(wasmPath);
let js = readFileSync(jsPath, 'utf8');

function encodeName(name) {
  const text = Buffer.from(name, 'utf8');
  return Buffer.concat([encodeLeb(text.length), text]);
}

function readName(buf, at) {
  const [len, start] = leb(buf, at);
  return [buf.toString('utf8', start, start + len), start + len];
}

// The end of an import's description (its kind and type), which is copied as
// it is.
function skipDescription(buf, at) {
  const kind = buf[at++];
  const limits = (p) => {
    const flags = buf[p++];
    if (flags > 7) fail(`unexpected limits flags ${flags}`);
    [, p] = leb(buf, p);
    if (flags & 1) [, p] = leb(buf, p);
    return p;
  };
  switch (kind) {
    case 0: // function: its type index
      return leb(buf, at)[1];
    case 1: // table: a reference type, then limits
      if (buf[at] !== 0x70 && buf[at] !== 0x6f) fail(`unexpected table type ${buf[at]}`);
      return limits(at + 1);
    case 2: // memory
      return limits(at);
    case 3: // global: a value type and whether it is mutable
      if (![0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f].includes(buf[at])) fail(`unexpected global type ${buf[at]}`);
      return at + 2;
    case 4: // tag: an attribute, then a type index
      return leb(buf, at + 1)[1];
    default:
      return fail(`unexpected import kind ${kind}`);
  }
}

// a … z, A … Z, then two letters and more.
function shortName(index) {
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  let name = '';
  do {
    name = letters[index % letters.length] + name;
    index = Math.floor(index / letters.length) - 1;
  } while (index >= 0);
  return name;
}

// The export section, its names that the JS reads only through `wasm.`
// renamed there and here.
function renameExports(start, end) {
  let [count, p] = leb(bytes, start);
  const section = [encodeLeb(count)];
  let next = 0;
  for (let i = 0; i < count; i++) {
    const [name, afterName] = readName(bytes, p);
    const kind = bytes[afterName];
    const [, afterIndex] = leb(bytes, afterName + 1);
    const word = name.replace(/[$]/g, '\\$&');
    const anywhere = js.match(new RegExp(`(?<![\\w$])${word}(?![\\w$])`, 'g'))?.length ?? 0;
    const throughWasm = new RegExp(`(?<![\\w$.])wasm\\.${word}(?![\\w$])`, 'g');
    const read = js.match(throughWasm)?.length ?? 0;
    let short = name;
    if (read > 0 && read === anywhere) {
      // A word the JS does not hold yet (not one of the imports' new names).
      do {
        short = shortName(next++);
      } while (new RegExp(`(?<![\\w$])${short}(?![\\w$])`).test(js));
      js = js.replace(throughWasm, `wasm.${short}`);
      exportsRenamed += 1;
    }
    section.push(encodeName(short), Buffer.from([kind]), bytes.subarray(afterName + 1, afterIndex));
    p = afterIndex;
  }
  if (p !== end) fail('the export section did not end where its size says');
  const content = Buffer.concat(section);
  return Buffer.concat([Buffer.from([7]), encodeLeb(content.length), content]);
}

let exportsRenamed = 0;
if (bytes.readUInt32LE(0) !== 0x6d736100) fail(`${wasmPath} is not a wasm module`);
const parts = [bytes.subarray(0, 8)];
let at = 8;
let renamed = 0;
let snippet;
while (at < bytes.length) {
  const id = bytes[at];
  const [size, start] = leb(bytes, at + 1);
  const end = start + size;
  if (id === 7) {
    parts.push(renameExports(start, end));
    at = end;
    continue;
  }
  if (id !== 2) {
    parts.push(bytes.subarray(at, end));
    at = end;
    continue;
  }
  let [count, p] = leb(bytes, start);
  const section = [encodeLeb(count)];
  for (let i = 0; i < count; i++) {
    const [module, afterModule] = readName(bytes, p);
    const [field, afterField] = readName(bytes, afterModule);
    const afterDescription = skipDescription(bytes, afterField);
    let name = field;
    let shortModule = module;
    if (SNIPPET.test(module)) {
      shortModule = SHORT_SNIPPET;
      snippet ??= module;
      if (module !== snippet) fail(`two snippet modules: ${snippet} and ${module}`);
    }
    if (module === MODULE) {
      shortModule = SHORT_MODULE;
      name = shortName(renamed++);
      const uses = js.split(field).length - 1;
      const key = new RegExp(`(^|[\\s{,])${field}:`, 'm');
      if (uses !== 1 || !key.test(js)) {
        fail(`${field} is not exactly one key of the JS (${uses} uses)`);
      }
      js = js.replace(key, `$1${name}:`);
    }
    section.push(encodeName(shortModule), encodeName(name), bytes.subarray(afterField, afterDescription));
    p = afterDescription;
  }
  if (p !== end) fail('the import section did not end where its size says');
  const content = Buffer.concat(section);
  parts.push(Buffer.from([2]), encodeLeb(content.length), content);
  at = end;
}
if (renamed === 0) fail(`no imports from ${MODULE}`);
if (exportsRenamed === 0) fail('no export renamed');
// The imports object's keys: wasm-bindgen's own module once, the snippet's
// once per import of it (each the same module's namespace), kept once.
const moduleKey = (name) => new RegExp(`^(\\s*)"${name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}": (import\\d+),$`, 'gm');
const ownKeys = js.match(moduleKey(MODULE)) ?? [];
if (ownKeys.length !== 1) fail(`${MODULE} is not exactly one key of the imports object (${ownKeys.length})`);
js = js.replace(moduleKey(MODULE), `$1${SHORT_MODULE}: $2,`);
if (snippet) {
  const snippetKeys = js.match(moduleKey(snippet)) ?? [];
  if (snippetKeys.length === 0) fail(`${snippet} is no key of the imports object`);
  let first = true;
  js = js.replace(moduleKey(snippet), (_, indent, namespace) => {
    const line = first ? `${indent}${SHORT_SNIPPET}: ${namespace},` : '';
    first = false;
    return line;
  });
}
writeFileSync(wasmPath, Buffer.concat(parts));
writeFileSync(jsPath, js);
