/** The answer to a `Range` header for a value of a known size (RFC 9110 §14). */
export type ByteRange =
  | { readonly kind: "full" }
  /** `start` and `end` are inclusive byte positions, as in Content-Range. */
  | { readonly kind: "partial"; readonly start: number; readonly end: number }
  | { readonly kind: "unsatisfiable" };

const FULL: ByteRange = { kind: "full" };
const UNSATISFIABLE: ByteRange = { kind: "unsatisfiable" };

/**
 * Interprets a `Range` header against a value of `sizeBytes`. Only a single byte range is
 * honoured: a header that is absent, malformed, of another unit or asks for several ranges
 * is ignored (the whole value is served, which RFC 9110 §14.2 allows).
 */
export function parseByteRange(header: string | undefined, sizeBytes: number): ByteRange {
  if (header === undefined) return FULL;
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (match === null) return FULL;
  const [, first = "", last = ""] = match;
  if (first === "" && last === "") return FULL;
  if (first === "") return suffixRange(Number(last), sizeBytes);
  const start = Number(first);
  const end = last === "" ? Number.MAX_SAFE_INTEGER : Number(last);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return FULL;
  if (start >= sizeBytes) return UNSATISFIABLE;
  return { kind: "partial", start, end: Math.min(end, sizeBytes - 1) };
}

/** `bytes=-N`: the last N bytes. */
function suffixRange(suffixBytes: number, sizeBytes: number): ByteRange {
  if (!Number.isSafeInteger(suffixBytes)) return FULL;
  if (suffixBytes === 0 || sizeBytes === 0) return UNSATISFIABLE;
  return { kind: "partial", start: Math.max(0, sizeBytes - suffixBytes), end: sizeBytes - 1 };
}
