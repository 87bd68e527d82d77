import { createHash } from "node:crypto";

/**
 * Unique blob values: every PUT writes a value named by an id, whose bytes are a pure
 * function of the id, so a read names the write it saw and is checked byte for byte.
 * Layout: "minikv-nemesis <id> <size>\n" then a SHA-256 counter stream of the id.
 */
const MAGIC = "minikv-nemesis";

export function valueBytes(id: string, sizeBytes: number): Buffer {
  const header = Buffer.from(`${MAGIC} ${id} ${sizeBytes}\n`);
  const total = Math.max(sizeBytes, header.byteLength);
  const out = Buffer.alloc(total);
  header.copy(out);
  let offset = header.byteLength;
  for (let block = 0; offset < total; block++) {
    const digest = createHash("sha256").update(`${id}:${block}`).digest();
    offset += digest.copy(out, offset, 0, Math.min(digest.byteLength, total - offset));
  }
  return out;
}

/** What a read returned: the value id it names, or why the bytes are not a value any PUT wrote. */
export type DecodedValue =
  { readonly ok: true; readonly id: string } | { readonly ok: false; readonly reason: string };

/** Names the write a body came from, and checks every byte against it. */
export function decodeValue(body: Buffer): DecodedValue {
  const newline = body.indexOf(0x0a);
  const header = newline < 0 || newline > 200 ? "" : body.subarray(0, newline).toString("latin1");
  const match = /^minikv-nemesis (\S+) (\d+)$/.exec(header);
  if (match === null) return { ok: false, reason: `no value header in ${body.byteLength} bytes` };
  const id = match[1]!;
  const sizeBytes = Number(match[2]);
  const expected = valueBytes(id, sizeBytes);
  if (expected.byteLength !== body.byteLength) {
    return { ok: false, reason: `value ${id}: ${body.byteLength} bytes, written ${expected.byteLength}` };
  }
  if (!expected.equals(body)) {
    for (let i = 0; i < body.byteLength; i++) {
      if (body[i] !== expected[i]) return { ok: false, reason: `value ${id}: first wrong byte at ${i}` };
    }
  }
  return { ok: true, id };
}
