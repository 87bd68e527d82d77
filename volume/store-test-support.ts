import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32c } from "../common/hashing.js";
import type { DiskStore, DiskStoreOptions } from "./disk-store.js";
import { openDiskStore } from "./disk-store.js";
import type { DiskSpace } from "./durable-fs.js";
import type { PrepareHeader } from "./store-api.js";

/**
 * Helpers shared by the engine's tests and by programs that drive the engine from a child
 * process (crash tests, benchmarks): temp volumes, prepared writes from buffers, reading a
 * value back whole.
 */

export interface TempVolume {
  readonly root: string;
  readonly dataDir: string;
  readonly walDir: string;
  open(options?: Partial<DiskStoreOptions>): Promise<DiskStore>;
  remove(): Promise<void>;
}

export async function tempVolume(prefix = "minikv-volume-"): Promise<TempVolume> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  const dataDir = join(root, "data");
  const walDir = join(root, "wal");
  return {
    root,
    dataDir,
    walDir,
    open: (options = {}) => openDiskStore({ dataDir, walDir, compactionCheckIntervalMs: 0, ...options }),
    // Retried: a store abandoned by a simulated crash may still be finishing a background
    // write (a bloom filter) into the directory being removed (ENOTEMPTY).
    remove: () => rm(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 }),
  };
}

/** A body stream yielding `value` in chunks of `chunkBytes`. */
export async function* chunksOf(value: Uint8Array, chunkBytes = 64 * 1024): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < value.length; at += chunkBytes) {
    await Promise.resolve();
    yield value.subarray(at, at + chunkBytes);
  }
}

export function headerFor(
  txid: string,
  key: string,
  value: Uint8Array,
  contentType = "application/octet-stream",
): PrepareHeader {
  return { txid, key, size: value.length, crc32c: crc32c(value), contentType };
}

/** Prepares and commits `value` under `key` at `version`. */
export async function putValue(
  store: DiskStore,
  key: string,
  value: Uint8Array,
  version: number,
  txid = `tx-${key}-${version}`,
): Promise<void> {
  await store.prepare(headerFor(txid, key, value), chunksOf(value));
  await store.commit(txid, version);
}

/** Reads a whole value (or range) into one buffer. */
export async function readAll(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk);
  return Buffer.concat(parts);
}

/** Deterministic pseudo-random bytes (xorshift), so failures replay from their seed. */
export function seededBytes(seed: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A seeded generator of integers in [0, n). */
export function seededRandom(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

/** A file system whose free space the test sets (`space.freeBytes = n`); pass `space.read`. */
export interface FakeDiskSpace {
  freeBytes: number;
  readonly read: () => Promise<DiskSpace>;
}

export function fakeDiskSpace(freeBytes: number, totalBytes: number): FakeDiskSpace {
  const space: FakeDiskSpace = {
    freeBytes,
    read: () => Promise.resolve({ freeBytes: space.freeBytes, totalBytes }),
  };
  return space;
}
