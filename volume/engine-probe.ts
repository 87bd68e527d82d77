import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { crc32c } from "../common/hashing.js";
import { openDiskStore } from "./disk-store.js";
import type { DiskStore } from "./disk-store.js";
import { removeSnapshot } from "./index-snapshot.js";
import { KeyIndex } from "./key-index.js";

/**
 * Measures what the issue asks of the engine at scale, for the benchmark and for
 * docs/volume-format.md (not a test: it prints numbers):
 *   - index memory per key at N keys (heap after GC, minus the keys' own UTF-8 bytes);
 *   - restart time of a real volume of N keys from its index snapshot and by full rebuild.
 *
 *   node --expose-gc dist/volume/engine-probe.js [keys=1000000] [memory|restart|all]
 */

export interface IndexMemoryResult {
  readonly keys: number;
  readonly heapBytesPerKey: number;
  readonly keyBytesPerKey: number;
  readonly bytesPerKeyBeyondKey: number;
}

/**
 * Synthetic but realistic names: ~32-byte object keys, 26-character txids (ULID-like),
 * decoded from bytes as the servers decode them (flat strings, not concatenations).
 */
export function probeKey(i: number): string {
  return Buffer.from(`photos/2024/06/IMG_${String(i).padStart(9, "0")}.jpg`).toString("utf8");
}

export function probeTxid(i: number): string {
  return Buffer.from(`01J${String(i).padStart(23, "0")}`).toString("utf8");
}

function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run with node --expose-gc");
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
}

/** Builds an index of `keys` committed values the way commits do and measures its heap. */
export function measureIndexMemory(keys: number): IndexMemoryResult {
  const before = heapAfterGc();
  const index = new KeyIndex();
  let keyBytes = 0;
  for (let i = 0; i < keys; i++) {
    const key = probeKey(i);
    keyBytes += Buffer.byteLength(key);
    index.offerValue({
      key,
      txid: probeTxid(i),
      contentType: i % 2 === 0 ? "image/jpeg" : "application/octet-stream",
      size: 4096,
      crc32c: i >>> 0,
      version: i + 1,
      createdAtMs: 1_700_000_000_000 + i,
      segment: 1 + Math.floor(i / 60_000),
      offset: 32 + (i % 60_000) * 4_200,
      recordBytes: 4_200,
    });
  }
  const after = heapAfterGc();
  if (index.keyCount !== keys) throw new Error("index lost keys");
  const heapBytesPerKey = (after - before) / keys;
  return {
    keys,
    heapBytesPerKey: Math.round(heapBytesPerKey),
    keyBytesPerKey: Math.round(keyBytes / keys),
    bytesPerKeyBeyondKey: Math.round(heapBytesPerKey - keyBytes / keys),
  };
}

export interface RestartResult {
  readonly keys: number;
  readonly loadSeconds: number;
  readonly snapshotRestartMs: number;
  readonly fullRebuildRestartMs: number;
  readonly snapshotMode: string;
  readonly rebuildMode: string;
}

/** Fills a real volume with `keys` small values (concurrent prepare+commit), then times restarts. */
export async function measureRestart(keys: number, concurrency = 2048): Promise<RestartResult> {
  const root = await mkdtemp(join(tmpdir(), "minikv-probe-"));
  const options = { dataDir: join(root, "data"), walDir: join(root, "wal"), compactionCheckIntervalMs: 0 };
  try {
    const loadStart = performance.now();
    let store: DiskStore = await openDiskStore(options);
    const value = Buffer.alloc(16, 7);
    const crc = crc32c(value);
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < keys; i = next++) {
        const txid = probeTxid(i);
        const body = (async function* () {
          yield await Promise.resolve(value);
        })();
        await store.prepare(
          { txid, key: probeKey(i), size: value.length, crc32c: crc, contentType: "" },
          body,
        );
        await store.commit(txid, i + 1);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    await store.close();
    const loadSeconds = (performance.now() - loadStart) / 1000;
    let t = performance.now();
    store = await openDiskStore(options);
    const snapshotRestartMs = performance.now() - t;
    const snapshotMode = store.recovery?.mode ?? "?";
    if (store.stats().keys !== keys) throw new Error(`snapshot restart found ${store.stats().keys} keys`);
    await store.simulateCrash();
    await removeSnapshot(options.dataDir);
    t = performance.now();
    store = await openDiskStore(options);
    const fullRebuildRestartMs = performance.now() - t;
    const rebuildMode = store.recovery?.mode ?? "?";
    if (store.stats().keys !== keys) throw new Error(`full rebuild found ${store.stats().keys} keys`);
    await store.close();
    return {
      keys,
      loadSeconds: Math.round(loadSeconds),
      snapshotRestartMs: Math.round(snapshotRestartMs),
      fullRebuildRestartMs: Math.round(fullRebuildRestartMs),
      snapshotMode,
      rebuildMode,
    };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const keys = Number(process.argv[2] ?? 1_000_000);
  const what = process.argv[3] ?? "all";
  if ((globalThis as { gc?: unknown }).gc === undefined) {
    const self = fileURLToPath(import.meta.url);
    const child = spawnSync(process.execPath, ["--expose-gc", self, ...process.argv.slice(2)], {
      stdio: "inherit",
    });
    process.exitCode = child.status ?? 1;
    return;
  }
  if (what === "memory" || what === "all")
    console.log(JSON.stringify({ indexMemory: measureIndexMemory(keys) }));
  if (what === "restart" || what === "all")
    console.log(JSON.stringify({ restart: await measureRestart(keys) }));
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.env["MINIKV_LOG_LEVEL"] ??= "warn";
  await main();
}
