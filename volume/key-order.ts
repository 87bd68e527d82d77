/**
 * UTF-8 byte order of two strings without encoding them (listKeys sorts up to millions of
 * keys; common/keys.ts compareKeys allocates two Buffers per comparison). UTF-16 code unit
 * order matches code point order — which is UTF-8 byte order — except that surrogates
 * (0xD800–0xDFFF, the halves of code points above 0xFFFF) must sort after 0xE000–0xFFFF;
 * remapping the units at and above 0xD800 fixes that.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x < 0xe000 ? x + 0x2000 : x - 0x800;
      y = y < 0xe000 ? y + 0x2000 : y - 0x800;
    }
    return x - y;
  }
  return a.length - b.length;
}
