import { assert } from "../common/errors.js";

/**
 * CRC32C of a concatenation from the CRCs of its parts: given crc(A), crc(B) and |B|,
 * returns crc(A ‖ B) without touching the bytes. This is zlib's `crc32_combine` algorithm
 * (appending |B| zero bytes to A's CRC is a linear map over GF(2), applied as 32×32 bit
 * matrices, one per power of two of the length) with the Castagnoli polynomial. It lets a
 * record's head be written after its value: the value's CRC is computed while streaming,
 * the head's when it is known, and the record CRC combines them.
 *
 * Operators for 2^k zero bytes are computed once and cached, so a combine costs at most
 * one 32-step matrix-vector product per set bit of the length.
 */

/** The reflected Castagnoli polynomial. */
const CRC32C_POLY_REFLECTED = 0x82f63b78;
/** Lengths up to 2^53 bytes (safe integers). */
const POWERS_MAX = 53;

type Gf2Matrix = Uint32Array<ArrayBuffer>;

function matrixTimes(matrix: Gf2Matrix, vector: number): number {
  let sum = 0;
  let v = vector >>> 0;
  for (let row = 0; v !== 0; row++, v >>>= 1) {
    if ((v & 1) !== 0) sum ^= matrix[row] ?? 0;
  }
  return sum >>> 0;
}

function matrixSquare(matrix: Gf2Matrix): Gf2Matrix {
  const square = new Uint32Array(32);
  for (let n = 0; n < 32; n++) square[n] = matrixTimes(matrix, matrix[n] ?? 0);
  return square;
}

/** zeroByteOperators[k] appends 2^k zero bytes to a CRC register. */
const zeroByteOperators: Gf2Matrix[] = [];

function operatorFor(power: number): Gf2Matrix {
  if (zeroByteOperators.length === 0) {
    // One zero bit: shift right, xor the polynomial when the low bit falls out.
    const oneBit = new Uint32Array(32);
    oneBit[0] = CRC32C_POLY_REFLECTED;
    for (let n = 1; n < 32; n++) oneBit[n] = (1 << (n - 1)) >>> 0;
    let op: Gf2Matrix = oneBit;
    for (let bits = 0; bits < 3; bits++) op = matrixSquare(op); // 8 zero bits = 1 byte
    zeroByteOperators.push(op);
  }
  while (zeroByteOperators.length <= power) {
    const last = zeroByteOperators[zeroByteOperators.length - 1];
    assert(last !== undefined, "operator table is not empty");
    zeroByteOperators.push(matrixSquare(last));
  }
  const op = zeroByteOperators[power];
  assert(op !== undefined, "operator computed");
  return op;
}

/** crc32c(A ‖ B) from crc32c(A), crc32c(B) and B's length in bytes. */
export function crc32cCombine(crcA: number, crcB: number, lengthB: number): number {
  if (!Number.isSafeInteger(lengthB) || lengthB < 0) assert(false, `combine length ${lengthB}`);
  let crc = crcA >>> 0;
  let remaining = lengthB;
  // The operators are linear: a zero register stays zero (crc(A) = 0, e.g. A empty, is the
  // common case of a value's first block), so the loop can stop there.
  for (let power = 0; remaining > 0 && crc !== 0 && power < POWERS_MAX; power++) {
    if (remaining % 2 === 1) crc = matrixTimes(operatorFor(power), crc);
    remaining = Math.floor(remaining / 2);
  }
  return (crc ^ crcB) >>> 0;
}
