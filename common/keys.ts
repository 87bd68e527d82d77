import { ErrorCode, MinikvError } from "./errors.js";
import { limits } from "./limits.js";

// C0 controls, DEL and C1 controls (DESIGN.md §4).
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Validates a blob key: 1..1024 bytes of UTF-8 without control characters. Lone surrogates
 * are not valid UTF-8 and are refused. Throws INVALID_KEY.
 */
export function validateKey(key: string): string {
  if (key.length === 0) throw new MinikvError(ErrorCode.INVALID_KEY, "key is empty");
  if (!key.isWellFormed()) throw new MinikvError(ErrorCode.INVALID_KEY, "key is not valid UTF-8");
  if (CONTROL_CHARACTERS.test(key))
    throw new MinikvError(ErrorCode.INVALID_KEY, "key contains a control character");
  const bytes = Buffer.byteLength(key, "utf8");
  if (bytes > limits.keyBytesMax) {
    throw new MinikvError(ErrorCode.INVALID_KEY, `key is ${bytes} bytes; the limit is ${limits.keyBytesMax}`);
  }
  return key;
}

/** Compares keys in UTF-8 byte order (the order keys are listed in). */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}
