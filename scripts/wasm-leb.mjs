// The unsigned LEB128 numbers of the wasm binary format, read and written
// by the build's two passes over the module (scripts/prune-table.mjs and
// scripts/short-imports.mjs).

/** The number at `at` in `buf`, and where the next field starts. */
export function leb(buf, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = buf[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if (byte < 0x80) return [value, at];
  }
}

/** `value` as its shortest LEB128 bytes. */
export function encodeLeb(value) {
  const out = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    out.push(byte);
  } while (value > 0);
  return Buffer.from(out);
}
