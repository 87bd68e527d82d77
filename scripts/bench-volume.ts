// `npm run bench:volume`: the volume's numbers beside this machine's own disk, in one table
// (issue 2 §4). Every measurement is repeated; the table shows the median and the spread.
// BENCH_QUICK=1 runs a small smoke version; BENCH_RESTART_KEYS overrides the 1,000,000 keys.
// BENCH_ONLY=engine-ops measures only the raw fsync rate and the engine's small writes (for
// profiling and A/B runs); BENCH_CONCURRENCIES=64 (comma-separated) picks their concurrencies.
// BENCH_ONLY=grpc-paced measures only the volume process's CPU per write at a held rate.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import {
  constants as fsConstants,
  closeSync,
  fdatasyncSync,
  mkdtempSync,
  openSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { rm } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import * as grpc from "@grpc/grpc-js";
import { Registry } from "prom-client";
import { crc32c } from "../common/hashing.js";
import { grpcChannelOptions, loadProto } from "../common/grpc.js";
import { SERVER_ENV, SERVER_NODE_FLAGS } from "../common/node-flags.js";
import { VolumeClient } from "../common/volume-client.js";
import type { ProtoGrpcType } from "../proto/generated/volume.js";
import { openDiskStore, type DiskStore } from "../volume/disk-store.js";
import { SNAPSHOT_FILE } from "../volume/index-snapshot.js";
import { cpuSecondsOf } from "./bench/proc-cpu.js";

const QUICK = process.env["BENCH_QUICK"] === "1";
const ONLY = process.env["BENCH_ONLY"];
if (ONLY !== undefined && ONLY !== "engine-ops" && ONLY !== "grpc-paced")
  throw new Error(`BENCH_ONLY=${ONLY}: engine-ops or grpc-paced`);
const CONCURRENCIES = (process.env["BENCH_CONCURRENCIES"] ?? "1,16,64").split(",").map(Number);
if (!CONCURRENCIES.every((c) => Number.isSafeInteger(c) && c > 0))
  throw new Error(
    `BENCH_CONCURRENCIES=${process.env["BENCH_CONCURRENCIES"]}: positive integers, comma-separated`,
  );
const MIB = 1024 * 1024;
const bench = {
  repetitions: QUICK ? 1 : 3,
  opsDurationMs: QUICK ? 1_000 : 3_000,
  opsValueBytes: 4096,
  concurrencies: CONCURRENCIES,
  rawFsyncDurationMs: QUICK ? 1_000 : 2_000,
  largeBytes: (QUICK ? 32 : 256) * MIB,
  largeChunkBytes: MIB,
  restartKeys: Number(process.env["BENCH_RESTART_KEYS"] ?? (QUICK ? 20_000 : 1_000_000)),
  restartLoadConcurrency: 512,
  restartRepetitions: QUICK ? 1 : 3,
  compactionValueBytes: 64 * 1024,
  compactionBytes: (QUICK ? 32 : 256) * MIB,
  compactionSegmentBytes: 32 * MIB,
  volumeStartTimeoutMs: 30_000,
  // Writers and the rate they are held to in all: about the cluster's 4 KiB PUT rate.
  pacedConcurrency: 64,
  pacedPairsPerSecond: 1_200,
  pacedPairs: QUICK ? 1_200 : 6_000,
} as const;

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const VOLUME_BIN = join(ROOT, "dist", "volume", "main.js");
const benchDir = mkdtempSync(join(tmpdir(), "minikv-bench-volume-"));

/** Median and spread of repeated samples. */
interface Stat {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

function statOf(samples: readonly number[]): Stat {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median =
    sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  return { median, min: sorted[0] ?? 0, max: sorted[sorted.length - 1] ?? 0 };
}

async function repeat(times: number, sample: (rep: number) => Promise<number> | number): Promise<Stat> {
  const samples: number[] = [];
  for (let rep = 0; rep < times; rep++) samples.push(await sample(rep));
  return statOf(samples);
}

/** Small-write rates at one concurrency, each repetition beside its own raw fsync sample. */
interface PairedOps {
  readonly ops: Stat;
  /** The raw append+fdatasync rate, sampled right before each repetition. */
  readonly raw: Stat;
  /** Each repetition's rate over the raw rate sampled right before it. */
  readonly ratio: Stat;
}

/**
 * Repeats `sample`, each time right after a raw fsync sample: this VM's disk and CPU speed
 * drift within minutes, so a ratio against a baseline taken minutes earlier measures the
 * drift as much as the engine. One run before them warms up (JIT) and is not counted.
 */
async function pairedWithRaw(sample: (rep: number) => Promise<number>): Promise<PairedOps> {
  const ops: number[] = [];
  const raw: number[] = [];
  await sample(bench.repetitions);
  for (let rep = 0; rep < bench.repetitions; rep++) {
    raw.push(rawFsyncOpsPerSecond());
    ops.push(await sample(rep));
  }
  return {
    ops: statOf(ops),
    raw: statOf(raw),
    ratio: statOf(ops.map((rate, rep) => rate / (raw[rep] ?? rate))),
  };
}

function progress(message: string): void {
  process.stderr.write(`bench-volume: ${message}\n`);
}

let nextDir = 0;
function freshDir(name: string): string {
  return join(benchDir, `${name}-${nextDir++}`);
}

// ---- the disk itself -------------------------------------------------------------------

/** Appends 4 KiB and fdatasyncs, in a loop: the single-writer fsync rate of this disk. */
function rawFsyncOpsPerSecond(): number {
  const path = join(benchDir, "raw-fsync.bin");
  const fd = openSync(path, "w");
  const block = randomBytes(bench.opsValueBytes);
  let ops = 0;
  const startMs = performance.now();
  try {
    while (performance.now() - startMs < bench.rawFsyncDurationMs) {
      writeSync(fd, block);
      fdatasyncSync(fd);
      ops++;
    }
  } finally {
    closeSync(fd);
    unlinkSync(path);
  }
  return ops / ((performance.now() - startMs) / 1000);
}

/**
 * O_DSYNC 4 KiB writes into blocks zeroed and fsynced beforehand, in a loop: a durable
 * write that changes no file metadata, as the engine's WAL and active segment make theirs
 * (volume/zero-fill.ts). Shown beside the append rate; the goal is set against the append.
 */
function rawZeroedDsyncOpsPerSecond(): number {
  const path = join(benchDir, "raw-zeroed.bin");
  const span = 256 * MIB;
  const zeroFd = openSync(path, "w");
  const zeros = Buffer.alloc(MIB);
  for (let at = 0; at < span; at += MIB) writeSync(zeroFd, zeros, 0, MIB, at);
  fdatasyncSync(zeroFd);
  closeSync(zeroFd);
  const fd = openSync(path, fsConstants.O_WRONLY | fsConstants.O_DSYNC);
  const block = randomBytes(bench.opsValueBytes);
  let ops = 0;
  const startMs = performance.now();
  try {
    while (performance.now() - startMs < bench.rawFsyncDurationMs && (ops + 1) * block.length <= span) {
      writeSync(fd, block, 0, block.length, ops * block.length);
      ops++;
    }
  } finally {
    closeSync(fd);
    unlinkSync(path);
  }
  return ops / ((performance.now() - startMs) / 1000);
}

/** `dd` write with conv=fdatasync, then a read of the same file; MB/s as 10^6 bytes. */
function ddMBps(): { write: number; read: number } {
  const path = join(benchDir, "dd.bin");
  const count = bench.largeBytes / MIB;
  const timeDd = (args: string[]): number => {
    const startMs = performance.now();
    const result = spawnSync("dd", args, { encoding: "utf8" });
    if (result.status !== 0) throw new Error(`dd ${args.join(" ")} failed: ${result.stderr}`);
    return bench.largeBytes / 1e6 / ((performance.now() - startMs) / 1000);
  };
  try {
    const write = timeDd(["if=/dev/zero", `of=${path}`, "bs=1M", `count=${count}`, "conv=fdatasync"]);
    const read = timeDd([`if=${path}`, "of=/dev/null", "bs=1M"]);
    return { write, read };
  } finally {
    rmSync(path, { force: true });
  }
}

/**
 * Sequential unary calls to a grpc-js server that answers at once, in this process: the
 * per-call cost of the gRPC stack itself on this machine, which the gRPC column pays twice
 * per write (Prepare and Commit).
 */
async function rawGrpcCallsPerSecond(): Promise<number> {
  const { Volume } = loadProto<ProtoGrpcType>("volume.proto").minikv.volume.v1;
  const server = new grpc.Server(grpcChannelOptions);
  server.addService(Volume.service, {
    Health: (_call: unknown, callback: grpc.sendUnaryData<object>) => callback(null, {}),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err === null ? resolve(bound) : reject(err),
    ),
  );
  const client = new Volume(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), grpcChannelOptions);
  const call = (): Promise<void> =>
    new Promise((resolve, reject) => client.Health({}, (err) => (err === null ? resolve() : reject(err))));
  try {
    await call();
    let calls = 0;
    const startMs = performance.now();
    while (performance.now() - startMs < bench.rawFsyncDurationMs) {
      await call();
      calls++;
    }
    return calls / ((performance.now() - startMs) / 1000);
  } finally {
    client.close();
    server.forceShutdown();
  }
}

// ---- small writes ----------------------------------------------------------------------

type PutFn = (txid: string, key: string, version: number) => Promise<void>;

/** `concurrency` writers doing prepare+commit of 4 KiB for opsDurationMs; ops/s. */
async function opsPerSecond(put: PutFn, concurrency: number, tag: string): Promise<number> {
  let version = 0;
  let ops = 0;
  const startMs = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, writer) => {
      while (performance.now() - startMs < bench.opsDurationMs) {
        const n = ++version;
        await put(`${tag}-${n}`, `ops/${writer}/${n % 1000}`, n);
        ops++;
      }
    }),
  );
  return ops / ((performance.now() - startMs) / 1000);
}

const smallValue = randomBytes(bench.opsValueBytes);
const smallCrc = crc32c(smallValue);

function enginePut(store: DiskStore): PutFn {
  return async (txid, key, version) => {
    await store.prepare(
      { txid, key, size: smallValue.length, crc32c: smallCrc, contentType: "" },
      bodyOf(smallValue),
    );
    await store.commit(txid, version);
  };
}

function grpcPut(client: VolumeClient): PutFn {
  return async (txid, key, version) => {
    await client.prepare({ txid, key, size: smallValue.length, crc32c: smallCrc }, [smallValue]);
    await client.commit(txid, version);
  };
}

interface PacedResult {
  readonly cpuMicrosPerPair: Stat;
  readonly pairsPerSecond: Stat;
}

/**
 * The volume process's CPU per 4 KiB prepare+commit over gRPC with pacedConcurrency writers
 * held to about pacedPairsPerSecond in all (each pauses between its pairs): the blob
 * benchmark's PUT rate, where a WAL round holds fewer records than flat out, and what a
 * round costs is shared by fewer writes (docs/BENCHMARKS.md, "WAL rounds").
 */
async function pacedCpu(client: VolumeClient, pid: number): Promise<PacedResult> {
  const put = grpcPut(client);
  const pauseMs = (bench.pacedConcurrency / bench.pacedPairsPerSecond) * 1000;
  const cpu: number[] = [];
  const rates: number[] = [];
  // Repetition 0 warms the JIT up and is not counted.
  for (let rep = 0; rep <= bench.repetitions; rep++) {
    let started = 0;
    const cpuBefore = cpuSecondsOf(pid);
    const startMs = performance.now();
    await Promise.all(
      Array.from({ length: bench.pacedConcurrency }, async (_, writer) => {
        while (started < bench.pacedPairs) {
          const n = ++started;
          await put(`p${rep}-${n}`, `paced${rep}/${writer}/${n % 1000}`, n);
          await sleep(pauseMs);
        }
      }),
    );
    if (rep === 0) continue;
    cpu.push(((cpuSecondsOf(pid) - cpuBefore) / bench.pacedPairs) * 1e6);
    rates.push(bench.pacedPairs / ((performance.now() - startMs) / 1000));
  }
  return { cpuMicrosPerPair: statOf(cpu), pairsPerSecond: statOf(rates) };
}

function pacedRow(paced: PacedResult, blanks: number): string[] {
  return [
    `4 KiB prepare+commit, c=${bench.pacedConcurrency} held to ~${bench.pacedPairsPerSecond.toLocaleString("en-US")}/s: volume CPU (µs per pair)`,
    ...Array<string>(blanks).fill(""),
    fmt(paced.cpuMicrosPerPair),
    `${fmt(paced.pairsPerSecond)} pairs/s reached`,
  ];
}

// ---- large blobs -----------------------------------------------------------------------

const largeChunk = randomBytes(bench.largeChunkBytes);
const largeCrc = (() => {
  let crc = 0;
  for (let at = 0; at < bench.largeBytes; at += bench.largeChunkBytes) crc = crc32c(largeChunk, crc);
  return crc;
})();

async function* largeBody(): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bench.largeBytes; at += bench.largeChunkBytes) {
    await Promise.resolve();
    yield largeChunk;
  }
}

async function timedMBps(work: () => Promise<number>): Promise<number> {
  const startMs = performance.now();
  const bytes = await work();
  return bytes / 1e6 / ((performance.now() - startMs) / 1000);
}

async function drainBytes(chunks: AsyncIterable<Uint8Array>): Promise<number> {
  let bytes = 0;
  for await (const chunk of chunks) bytes += chunk.length;
  if (bytes !== bench.largeBytes) throw new Error(`read ${bytes} bytes, expected ${bench.largeBytes}`);
  return bytes;
}

interface LargeResult {
  readonly write: Stat;
  readonly read: Stat;
}

/** The engine's large blobs, each repetition between two dd runs. */
interface EngineLargeResult extends LargeResult {
  readonly ddWrite: Stat;
  readonly ddRead: Stat;
  /** Each repetition's write rate over the faster of the dd writes right before and after it. */
  readonly writeRatio: Stat;
}

/**
 * dd runs before the first repetition and after every one; each repetition writes and
 * reads one blob in a fresh volume that is removed afterwards, as dd removes its file. On
 * this VM, writing into memory not used for a while is several times slower (files kept
 * took dd from ~1,500 to ~300 MB/s), and which of two neighbouring runs gets the fast
 * memory varies, so each repetition is held against the faster of the dd runs on either
 * side of it.
 */
async function largeEngine(): Promise<EngineLargeResult> {
  const writes: number[] = [];
  const reads: number[] = [];
  const dds: { write: number; read: number }[] = [ddMBps()];
  for (let rep = 0; rep < bench.repetitions; rep++) {
    await withFreshStore("large", async (store) => {
      const key = `large/${rep}`;
      const txid = `large-${rep}`;
      writes.push(
        await timedMBps(async () => {
          const header = { txid, key, size: bench.largeBytes, crc32c: largeCrc, contentType: "" };
          await store.prepare(header, largeBody());
          await store.commit(txid, rep + 1);
          return bench.largeBytes;
        }),
      );
      reads.push(await timedMBps(() => drainBytes(store.read(key))));
    });
    dds.push(ddMBps());
  }
  const ddBeside = (rep: number): number => Math.max(dds[rep]?.write ?? 0, dds[rep + 1]?.write ?? 0);
  return {
    write: statOf(writes),
    read: statOf(reads),
    ddWrite: statOf(dds.map((dd) => dd.write)),
    ddRead: statOf(dds.map((dd) => dd.read)),
    writeRatio: statOf(writes.map((mbps, rep) => mbps / ddBeside(rep))),
  };
}

async function largeGrpc(client: VolumeClient): Promise<LargeResult> {
  const reads: number[] = [];
  const write = await repeat(bench.repetitions, async (rep) => {
    const key = `large/${rep}`;
    const mbps = await timedMBps(async () => {
      await client.prepare(
        { txid: `glarge-${rep}`, key, size: bench.largeBytes, crc32c: largeCrc },
        largeBody(),
      );
      await client.commit(`glarge-${rep}`, 1_000_000 + rep);
      return bench.largeBytes;
    });
    reads.push(await timedMBps(() => drainBytes(client.read(key))));
    await client.delete(key, 1_000_000 + rep);
    return mbps;
  });
  return { write, read: statOf(reads) };
}

// ---- restart, index memory -------------------------------------------------------------

const gc: () => void = (() => {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
})();

function memoryBytes(): number {
  gc();
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

function restartKey(n: number): string {
  return `restart/${String(n).padStart(8, "0")}`;
}

/** Fills a fresh volume with `restartKeys` committed 16-byte values; returns its directories. */
async function loadRestartVolume(): Promise<{ dataDir: string; walDir: string; loadSeconds: number }> {
  const root = freshDir("restart");
  const dataDir = join(root, "data");
  const walDir = join(root, "wal");
  const store = await openDiskStore({ dataDir, walDir, snapshotIntervalMs: 0, compactionCheckIntervalMs: 0 });
  const value = randomBytes(16);
  const crc = crc32c(value);
  let next = 0;
  const startMs = performance.now();
  await Promise.all(
    Array.from({ length: bench.restartLoadConcurrency }, async () => {
      for (let n = next++; n < bench.restartKeys; n = next++) {
        const header = { txid: `r${n}`, key: restartKey(n), size: 16, crc32c: crc, contentType: "" };
        await store.prepare(header, bodyOf(value));
        await store.commit(`r${n}`, n + 1);
        if (n % 100_000 === 0) progress(`  loaded ${n} keys`);
      }
    }),
  );
  const loadSeconds = (performance.now() - startMs) / 1000;
  await store.close();
  return { dataDir, walDir, loadSeconds };
}

interface RestartResult {
  readonly withSnapshotMs: Stat;
  readonly withoutSnapshotMs: Stat;
  readonly modes: string;
  readonly indexBytesPerKey: number;
  readonly keyBytes: number;
  readonly loadOpsPerSecond: number;
}

async function restartBench(): Promise<RestartResult> {
  const { dataDir, walDir, loadSeconds } = await loadRestartVolume();
  const modes = new Set<string>();
  let indexBytesPerKey = 0;
  const open = async (): Promise<number> => {
    const before = memoryBytes();
    const startMs = performance.now();
    const store = await openDiskStore({
      dataDir,
      walDir,
      snapshotIntervalMs: 0,
      compactionCheckIntervalMs: 0,
    });
    const elapsedMs = performance.now() - startMs;
    modes.add(store.recovery?.mode ?? "unknown");
    if (store.stats().keys !== bench.restartKeys) throw new Error(`reopened with ${store.stats().keys} keys`);
    indexBytesPerKey = (memoryBytes() - before) / bench.restartKeys;
    await store.close();
    return elapsedMs;
  };
  const withSnapshotMs = await repeat(bench.restartRepetitions, open);
  const withoutSnapshotMs = await repeat(bench.restartRepetitions, async () => {
    rmSync(join(dataDir, SNAPSHOT_FILE), { force: true });
    return open();
  });
  const keyBytes = Buffer.byteLength(restartKey(0));
  return {
    withSnapshotMs,
    withoutSnapshotMs,
    modes: [...modes].join(", "),
    indexBytesPerKey,
    keyBytes,
    loadOpsPerSecond: bench.restartKeys / loadSeconds,
  };
}

// ---- compaction ------------------------------------------------------------------------

/**
 * Writes compactionBytes of 64 KiB values, overwrites half of them (50% garbage), then
 * compacts: MB/s of segment bytes processed (live bytes copied plus garbage dropped).
 */
async function compactionMBps(rep: number): Promise<number> {
  const root = freshDir("compaction");
  const registry = new Registry();
  const store = await openDiskStore({
    dataDir: join(root, "data"),
    walDir: join(root, "wal"),
    segmentBytesMax: bench.compactionSegmentBytes,
    compactionCheckIntervalMs: 0,
    registry,
  });
  try {
    const value = randomBytes(bench.compactionValueBytes);
    const crc = crc32c(value);
    const count = bench.compactionBytes / bench.compactionValueBytes;
    let version = 0;
    const write = async (n: number): Promise<void> => {
      const txid = `c${rep}-${++version}`;
      await store.prepare(
        { txid, key: `compact/${n}`, size: value.length, crc32c: crc, contentType: "" },
        bodyOf(value),
      );
      await store.commit(txid, version);
    };
    await inParallel(count, 32, write);
    await inParallel(count / 2, 32, (n) => write(n * 2));
    const startMs = performance.now();
    const result = await store.compact();
    const seconds = (performance.now() - startMs) / 1000;
    const copiedBytes = await counterValue(registry, "minikv_volume_compaction_bytes_copied_total");
    progress(
      `  compaction: ${result.segmentsCompacted} segments, ${(copiedBytes / MIB).toFixed(0)} MiB copied, ` +
        `${(result.bytesFreed / MIB).toFixed(0)} MiB freed in ${seconds.toFixed(2)} s`,
    );
    return (copiedBytes + result.bytesFreed) / 1e6 / seconds;
  } finally {
    await store.close();
    await rm(root, { recursive: true, force: true });
  }
}

async function counterValue(registry: Registry, name: string): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) return 0;
  const values = (await metric.get()).values;
  return values.reduce((sum, v) => sum + v.value, 0);
}

async function* bodyOf(value: Uint8Array): AsyncGenerator<Uint8Array> {
  await Promise.resolve();
  yield value;
}

async function inParallel(
  count: number,
  concurrency: number,
  work: (n: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let n = next++; n < count; n = next++) await work(n);
    }),
  );
}

// ---- a real volume process for the gRPC columns ----------------------------------------

interface VolumeProcess {
  readonly child: ChildProcess;
  readonly grpc: string;
}

async function startVolumeProcess(): Promise<VolumeProcess> {
  const root = freshDir("grpc-volume");
  const child = spawn(
    process.execPath,
    [
      ...SERVER_NODE_FLAGS.volume,
      VOLUME_BIN,
      "serve",
      ...["--id", "bench-vol", "--bind", "127.0.0.1:0", "--grpc", "127.0.0.1:0"],
      ...["--data", join(root, "data"), "--wal", join(root, "wal"), "--coordinators", ""],
    ],
    {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, ...SERVER_ENV, MINIKV_LOG_LEVEL: "warn" },
    },
  );
  const lines = createInterface({ input: child.stdout });
  const timer = setTimeout(() => child.kill("SIGKILL"), bench.volumeStartTimeoutMs);
  for await (const line of lines) {
    if (!line.startsWith("{")) continue;
    const event = JSON.parse(line) as { event?: string; grpc?: string };
    if (event.event === "listening" && event.grpc !== undefined) {
      clearTimeout(timer);
      return { child, grpc: event.grpc };
    }
  }
  throw new Error("the volume process exited before listening");
}

function volumePid(volume: VolumeProcess): number {
  if (volume.child.pid === undefined) throw new Error("the volume process has no pid");
  return volume.child.pid;
}

async function stopVolumeProcess(volume: VolumeProcess): Promise<void> {
  const exited = once(volume.child, "exit");
  volume.child.kill("SIGTERM");
  await exited;
}

/** Runs `work` against a fresh volume process and a client of it; stops both after. */
async function withVolumeProcess<T>(
  work: (client: VolumeClient, volume: VolumeProcess) => Promise<T>,
): Promise<T> {
  const volume = await startVolumeProcess();
  const client = new VolumeClient(volume.grpc, { unaryDeadlineMs: 60_000 });
  try {
    return await work(client, volume);
  } finally {
    client.close();
    await stopVolumeProcess(volume);
  }
}

// ---- the table -------------------------------------------------------------------------

/** `stat` as median (min–max), each number written by `f`; the median alone for a single run. */
function spread(stat: Stat, f: (n: number) => string): string {
  return bench.repetitions === 1 && stat.min === stat.max
    ? f(stat.median)
    : `${f(stat.median)} (${f(stat.min)}–${f(stat.max)})`;
}

function fmt(stat: Stat, digits = 0): string {
  return spread(stat, (n) =>
    n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }),
  );
}

function verdict(met: boolean): string {
  return met ? "met" : "NOT met";
}

interface Results {
  readonly rawFsync: Stat;
  readonly rawZeroedDsync: Stat;
  readonly rawGrpcCalls: Stat;
  readonly engineOps: ReadonlyMap<number, PairedOps>;
  readonly grpcOps: ReadonlyMap<number, PairedOps>;
  readonly engineLarge: EngineLargeResult;
  readonly grpcLarge: LargeResult;
  readonly grpcPaced: PacedResult;
  readonly restart: RestartResult;
  readonly compaction: Stat | undefined;
}

async function measureBaselines(): Promise<Pick<Results, "rawFsync" | "rawZeroedDsync" | "rawGrpcCalls">> {
  progress("raw fsynced 4 KiB appends");
  const rawFsync = await repeat(bench.repetitions, () => rawFsyncOpsPerSecond());
  const rawZeroedDsync = await repeat(bench.repetitions, () => rawZeroedDsyncOpsPerSecond());
  progress("raw grpc-js unary calls");
  const rawGrpcCalls = await repeat(bench.repetitions, rawGrpcCallsPerSecond);
  return {
    rawFsync,
    rawZeroedDsync,
    rawGrpcCalls,
  };
}

/** Runs `work` on a fresh engine in its own temp dir, then closes and removes it. */
async function withFreshStore<T>(name: string, work: (store: DiskStore) => Promise<T>): Promise<T> {
  const root = freshDir(name);
  const store = await openDiskStore({
    dataDir: join(root, "data"),
    walDir: join(root, "wal"),
    compactionCheckIntervalMs: 0,
  });
  try {
    return await work(store);
  } finally {
    await store.close();
    await rm(root, { recursive: true, force: true });
  }
}

function engineOpsAt(concurrency: number): Promise<PairedOps> {
  return pairedWithRaw((rep) =>
    withFreshStore("ops", (store) => opsPerSecond(enginePut(store), concurrency, `e${rep}`)),
  );
}

async function measureEngine(): Promise<Pick<Results, "engineOps" | "engineLarge">> {
  const engineOps = new Map<number, PairedOps>();
  for (const concurrency of bench.concurrencies) {
    progress(`engine 4 KiB prepare+commit at concurrency ${concurrency}`);
    engineOps.set(concurrency, await engineOpsAt(concurrency));
  }
  progress(`dd and engine ${bench.largeBytes / MIB} MiB blobs`);
  const engineLarge = await largeEngine();
  return { engineOps, engineLarge };
}

function measureGrpc(): Promise<Pick<Results, "grpcOps" | "grpcLarge" | "grpcPaced">> {
  return withVolumeProcess(async (client, volume) => {
    const grpcOps = new Map<number, PairedOps>();
    for (const concurrency of bench.concurrencies) {
      progress(`gRPC 4 KiB prepare+commit at concurrency ${concurrency}`);
      const paired = await pairedWithRaw((rep) =>
        opsPerSecond(grpcPut(client), concurrency, `g${concurrency}-${rep}`),
      );
      grpcOps.set(concurrency, paired);
    }
    progress(`gRPC 4 KiB prepare+commit held to ~${bench.pacedPairsPerSecond}/s`);
    const grpcPaced = await pacedCpu(client, volumePid(volume));
    progress(`gRPC ${bench.largeBytes / MIB} MiB blobs`);
    return { grpcOps, grpcPaced, grpcLarge: await largeGrpc(client) };
  });
}

async function measureAll(): Promise<Results> {
  const disk = await measureBaselines();
  const engine = await measureEngine();
  const grpc = await measureGrpc();
  progress(`restart with ${bench.restartKeys.toLocaleString("en-US")} keys (loading them first)`);
  const restart = await restartBench();
  progress("compaction");
  // Reported as unavailable rather than aborting the whole run when the engine refuses.
  const compaction = await repeat(bench.repetitions, compactionMBps).catch((err: unknown) => {
    progress(`  compaction failed: ${String(err)}`);
    return undefined;
  });
  return { ...disk, ...engine, ...grpc, restart, compaction };
}

function percent(part: number, whole: number): string {
  return `${((part / whole) * 100).toFixed(0)}%`;
}

function opsRows(r: Results): string[][] {
  const e1 = r.engineOps.get(1)?.ops.median ?? 0;
  const rows = bench.concurrencies.map((c) => {
    const e = r.engineOps.get(c);
    const g = r.grpcOps.get(c);
    const e64 = c === 64 && e !== undefined ? e : undefined;
    const ratio = `engine ${ratioText(e)}, gRPC ${ratioText(g)} raw${
      e64 === undefined ? "" : `; engine ${(e64.ops.median / e1).toFixed(1)}× its c=1`
    }`;
    return [
      `4 KiB prepare+commit, fsynced, c=${c} (ops/s)`,
      e === undefined ? "" : fmt(e.ops),
      g === undefined ? "" : fmt(g.ops),
      e === undefined ? "" : `append+fdatasync ${fmt(e.raw)}, beside the engine's runs`,
      ratio,
      e64 === undefined ? "" : `≥ 5× raw fsync rate: ${verdict(e64.ratio.median >= 5)}`,
    ];
  });
  rows.push([...pacedRow(r.grpcPaced, 1), "", ""]);
  rows.push(zeroedRow(r.rawZeroedDsync, r.rawFsync, 2, 1));
  const g1 = r.grpcOps.get(1)?.ops.median ?? 0;
  rows.push([
    "unary gRPC call, c=1, grpc-js echo (calls/s)",
    "",
    "",
    `grpc-js alone ${fmt(r.rawGrpcCalls)}`,
    `a gRPC write at c=1 takes ${(1000 / g1).toFixed(1)} ms; one bare call ${(1000 / r.rawGrpcCalls.median).toFixed(1)} ms`,
    "",
  ]);
  return rows;
}

/** A paired rate's ratio to its raw samples: median (min–max) over the repetitions. */
function ratioText(paired: PairedOps | undefined): string {
  return paired === undefined ? "–" : spread(paired.ratio, (x) => `${x.toFixed(2)}×`);
}

function largeRows(r: Results): string[][] {
  const mib = bench.largeBytes / MIB;
  const { engineLarge: e, grpcLarge: g } = r;
  return [
    [
      `${mib} MiB blob write, fsynced (MB/s)`,
      fmt(e.write),
      fmt(g.write),
      `dd conv=fdatasync ${fmt(e.ddWrite)}, beside the engine's runs`,
      `engine ${spread(e.writeRatio, (x) => `${(x * 100).toFixed(0)}%`)}, gRPC ${percent(g.write.median, e.ddWrite.median)}`,
      `≥ 70% of dd: ${verdict(e.writeRatio.median >= 0.7)}`,
    ],
    [
      `${mib} MiB blob read, CRC-checked (MB/s)`,
      fmt(e.read),
      fmt(g.read),
      `dd read ${fmt(e.ddRead)}`,
      `engine ${percent(e.read.median, e.ddRead.median)}, gRPC ${percent(g.read.median, e.ddRead.median)}`,
      "",
    ],
  ];
}

function restartRows(r: Results): string[][] {
  const keys = bench.restartKeys.toLocaleString("en-US");
  const { restart } = r;
  const beyondKey = restart.indexBytesPerKey - restart.keyBytes;
  const row = (name: string, value: string, ratio = "", target = ""): string[] => [
    name,
    value,
    "",
    "",
    ratio,
    target,
  ];
  return [
    row(
      `restart, ${keys} keys, from the index snapshot (ms)`,
      fmt(restart.withSnapshotMs),
      `recovery modes seen: ${restart.modes}`,
      `< 1 s: ${verdict(restart.withSnapshotMs.median < 1000)}`,
    ),
    row(`restart, ${keys} keys, no snapshot: full rebuild (ms)`, fmt(restart.withoutSnapshotMs)),
    row(
      "index memory per key (bytes, JS heap + external)",
      restart.indexBytesPerKey.toFixed(0),
      `${beyondKey.toFixed(0)} beyond the ${restart.keyBytes}-byte key`,
      `≤ 200 beyond the key: ${verdict(beyondKey <= 200)}`,
    ),
    row(
      "compaction, 50% garbage (MB/s of segments processed)",
      r.compaction === undefined ? "failed (see log)" : fmt(r.compaction),
    ),
    row(
      `loading the ${keys} keys, c=${bench.restartLoadConcurrency}, 16 B values (ops/s)`,
      restart.loadOpsPerSecond.toFixed(0),
    ),
  ];
}

/**
 * The disk's durable 4 KiB writes into zeroed blocks beside its appends: a row with the
 * measurement's name, `blanks` empty cells (the engine's columns), the rate and the ratio.
 */
function zeroedRow(zeroed: Stat, append: Stat, blanks: number, trailing: number): string[] {
  return [
    "4 KiB O_DSYNC write into zeroed blocks, raw (ops/s)",
    ...Array<string>(blanks).fill(""),
    `zeroed ${fmt(zeroed)}`,
    `${(zeroed.median / append.median).toFixed(2)}× append+fdatasync`,
    ...Array<string>(trailing).fill(""),
  ];
}

/** BENCH_ONLY=engine-ops: the raw fsync rate and the engine's small writes, nothing else. */
async function engineOpsOnly(): Promise<void> {
  progress("raw fsynced 4 KiB appends");
  const rawFsync = await repeat(bench.repetitions, () => rawFsyncOpsPerSecond());
  const rawZeroedDsync = await repeat(bench.repetitions, () => rawZeroedDsyncOpsPerSecond());
  const rows: string[][] = [];
  for (const concurrency of bench.concurrencies) {
    progress(`engine 4 KiB prepare+commit at concurrency ${concurrency}`);
    const paired = await engineOpsAt(concurrency);
    rows.push([
      `4 KiB prepare+commit, fsynced, c=${concurrency} (ops/s)`,
      fmt(paired.ops),
      `append+fdatasync ${fmt(paired.raw)}, beside the engine's runs`,
      `engine ${ratioText(paired)} raw`,
    ]);
  }
  rows.push(zeroedRow(rawZeroedDsync, rawFsync, 1, 0));
  printTable(["measurement", "engine (in-process)", "baseline on this machine", "ratio"], rows);
}

/** BENCH_ONLY=grpc-paced: the volume process's CPU per write at a held rate, nothing else. */
async function grpcPacedOnly(): Promise<void> {
  const paced = await withVolumeProcess((client, volume) => {
    progress(`gRPC 4 KiB prepare+commit held to ~${bench.pacedPairsPerSecond}/s`);
    return pacedCpu(client, volumePid(volume));
  });
  printTable(["measurement", "gRPC (volume process)", "rate"], [pacedRow(paced, 0)]);
}

async function main(): Promise<void> {
  if (ONLY === "engine-ops") return engineOpsOnly();
  statSync(VOLUME_BIN);
  if (ONLY === "grpc-paced") return grpcPacedOnly();
  progress(`temp dir ${benchDir}; ${QUICK ? "QUICK smoke run" : "full run"}`);
  const results = await measureAll();
  printTable(
    [
      "measurement",
      "engine (in-process)",
      "gRPC (volume process)",
      "baseline on this machine",
      "ratio",
      "target",
    ],
    [...opsRows(results), ...largeRows(results), ...restartRows(results)],
  );
}

function printTable(header: string[], rows: string[][]): void {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? "").length)));
  const line = (row: string[]): string =>
    `| ${row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  process.stdout.write(`${line(header)}\n`);
  process.stdout.write(`| ${widths.map((w) => "-".repeat(w)).join(" | ")} |\n`);
  for (const row of rows) process.stdout.write(`${line(row)}\n`);
}

try {
  await main();
} finally {
  rmSync(benchDir, { recursive: true, force: true });
}
