import { promises as fsp } from "node:fs";
import { join } from "node:path";
import { assert } from "../common/errors.js";
import { crc32c } from "../common/hashing.js";
import { writeFileAtomic } from "./durable-fs.js";
import { engineLimits } from "./engine-limits.js";
import { readU64, writeU64 } from "./record-codec.js";

/**
 * Per-segment bloom filters over the keys of every record in a segment
 * (docs/volume-format.md, "Bloom filters"). They answer "may segment S hold a record of
 * key K?" with no false negatives. The whole index is in memory, so reads never need them;
 * compaction does: a tombstone may be dropped only when no other segment may still hold
 * an older record of its key, and without filters that question means reading every
 * segment. Built when a segment is sealed, persisted as `seg-<n>.bloom`, rebuilt by
 * scanning the segment when missing or corrupt.
 */

const BLOOM_MAGIC = Buffer.from("MKVBLM01", "latin1");
const BLOOM_HEADER_BYTES = 40;
const SECOND_HASH_SEED = 0x9747b28c;

/** The two 32-bit hashes a key's bit positions derive from (double hashing). */
export interface KeyHash {
  readonly h1: number;
  readonly h2: number;
}

/**
 * MurmurHash3 (x86, 32-bit) of the key's UTF-8 bytes with seeds 0 and 0x9747b28c, computed
 * in JavaScript: for short keys a native call costs more than the hash.
 */
export function hashKey(key: string): KeyHash {
  const bytes = utf8Bytes(key);
  // An odd h2 is coprime with a power-of-two bit count and spreads well otherwise.
  return { h1: murmur3(bytes, 0), h2: (murmur3(bytes, SECOND_HASH_SEED) | 1) >>> 0 };
}

const scratch = new Uint8Array(4 * 1024 + 8);
const encoder = new TextEncoder();

function utf8Bytes(key: string): Uint8Array {
  const { written } = encoder.encodeInto(key, scratch);
  return written === key.length && written < scratch.length
    ? scratch.subarray(0, written)
    : Buffer.from(key, "utf8");
}

function murmur3(bytes: Uint8Array, seed: number): number {
  let h = seed >>> 0;
  const blocks = bytes.length & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k =
      (bytes[i] ?? 0) |
      ((bytes[i + 1] ?? 0) << 8) |
      ((bytes[i + 2] ?? 0) << 16) |
      ((bytes[i + 3] ?? 0) << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = bytes.length & 3;
  if (tail > 0) {
    let k = 0;
    for (let i = tail - 1; i >= 0; i--) k = (k << 8) | (bytes[blocks + i] ?? 0);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
  }
  h ^= bytes.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function bloomFileName(segment: number): string {
  return `seg-${String(segment).padStart(12, "0")}.bloom`;
}

/** Bits and hash count for `keys` keys at false-positive rate `fpRate`. */
export function bloomShape(keys: number, fpRate: number): { bitCount: number; hashCount: number } {
  assert(fpRate > 0 && fpRate < 1, "false-positive rate in (0, 1)");
  const n = Math.max(keys, engineLimits.bloomKeysMin);
  const bitCount = Math.min(engineLimits.bloomBitsMax, Math.ceil((-n * Math.log(fpRate)) / Math.LN2 ** 2));
  const hashCount = Math.min(engineLimits.bloomHashesMax, Math.max(1, Math.round((bitCount / n) * Math.LN2)));
  return { bitCount, hashCount };
}

export class BloomFilter {
  private constructor(
    readonly bits: Uint8Array,
    readonly bitCount: number,
    readonly hashCount: number,
    /** Keys added (for the file header and sizing checks). */
    private added: number,
  ) {}

  static create(expectedKeys: number, fpRate: number): BloomFilter {
    const { bitCount, hashCount } = bloomShape(expectedKeys, fpRate);
    return new BloomFilter(new Uint8Array(Math.ceil(bitCount / 8)), bitCount, hashCount, 0);
  }

  static fromHashes(hashes: Iterable<KeyHash>, count: number, fpRate: number): BloomFilter {
    const filter = BloomFilter.create(count, fpRate);
    for (const hash of hashes) filter.addHash(hash);
    return filter;
  }

  get keyCount(): number {
    return this.added;
  }

  add(key: string): void {
    this.addHash(hashKey(key));
  }

  addHash({ h1, h2 }: KeyHash): void {
    for (let i = 0; i < this.hashCount; i++) {
      const bit = (h1 + i * h2) % this.bitCount;
      this.bits[bit >>> 3] = (this.bits[bit >>> 3] ?? 0) | (1 << (bit & 7));
    }
    this.added += 1;
  }

  mayContain(key: string): boolean {
    return this.mayContainHash(hashKey(key));
  }

  mayContainHash({ h1, h2 }: KeyHash): boolean {
    for (let i = 0; i < this.hashCount; i++) {
      const bit = (h1 + i * h2) % this.bitCount;
      if (((this.bits[bit >>> 3] ?? 0) & (1 << (bit & 7))) === 0) return false;
    }
    return true;
  }

  encode(segment: number): Buffer[] {
    const header = Buffer.alloc(BLOOM_HEADER_BYTES);
    BLOOM_MAGIC.copy(header, 0);
    header.writeUInt32LE(1, 8);
    header.writeUInt32LE(segment, 12);
    writeU64(header, 16, this.added);
    writeU64(header, 24, this.bitCount);
    header.writeUInt32LE(this.hashCount, 32);
    const crc = Buffer.alloc(4);
    crc.writeUInt32LE(crc32c(this.bits, crc32c(header.subarray(0, 36))), 0);
    return [header, Buffer.from(this.bits.buffer, this.bits.byteOffset, this.bits.byteLength), crc];
  }

  /** Decodes a bloom file of `segment`; a reason string when it is unusable. */
  static decode(bytes: Buffer, segment: number): BloomFilter | string {
    if (bytes.length < BLOOM_HEADER_BYTES + 4 || !bytes.subarray(0, 8).equals(BLOOM_MAGIC))
      return "bad magic";
    if (bytes.readUInt32LE(8) !== 1 || bytes.readUInt32LE(12) !== segment) return "wrong version or segment";
    const added = readU64(bytes, 16);
    const bitCount = readU64(bytes, 24);
    const hashCount = bytes.readUInt32LE(32);
    if (
      added === undefined ||
      bitCount === undefined ||
      bitCount < 8 ||
      bitCount > engineLimits.bloomBitsMax
    ) {
      return "bad shape";
    }
    if (hashCount < 1 || hashCount > engineLimits.bloomHashesMax) return "bad hash count";
    const bitBytes = Math.ceil(bitCount / 8);
    if (bytes.length !== BLOOM_HEADER_BYTES + bitBytes + 4) return "length mismatch";
    const bits = bytes.subarray(BLOOM_HEADER_BYTES, BLOOM_HEADER_BYTES + bitBytes);
    const crc = crc32c(bits, crc32c(bytes.subarray(0, 36)));
    if (crc !== bytes.readUInt32LE(BLOOM_HEADER_BYTES + bitBytes)) return "CRC mismatch";
    return new BloomFilter(new Uint8Array(bits), bitCount, hashCount, added);
  }
}

export async function writeBloomFile(dataDir: string, segment: number, filter: BloomFilter): Promise<void> {
  await writeFileAtomic(join(dataDir, bloomFileName(segment)), filter.encode(segment));
}

/** The persisted filter of `segment`, undefined when missing, a reason string when corrupt. */
export async function readBloomFile(
  dataDir: string,
  segment: number,
): Promise<BloomFilter | string | undefined> {
  try {
    return BloomFilter.decode(await fsp.readFile(join(dataDir, bloomFileName(segment))), segment);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    return `unreadable: ${(err as Error).message}`;
  }
}

/** A growable list of key hashes (the active segment's keys, for its filter at seal time). */
export class KeyHashList {
  private h1s: Uint32Array = new Uint32Array(1024);
  private h2s: Uint32Array = new Uint32Array(1024);
  private count = 0;

  get length(): number {
    return this.count;
  }

  push({ h1, h2 }: KeyHash): void {
    if (this.count === this.h1s.length) {
      const grow = (old: Uint32Array): Uint32Array => {
        const next = new Uint32Array(old.length * 2);
        next.set(old);
        return next;
      };
      this.h1s = grow(this.h1s);
      this.h2s = grow(this.h2s);
    }
    this.h1s[this.count] = h1;
    this.h2s[this.count] = h2;
    this.count += 1;
  }

  *hashes(): Generator<KeyHash> {
    for (let i = 0; i < this.count; i++) yield { h1: this.h1s[i] ?? 0, h2: this.h2s[i] ?? 0 };
  }
}
