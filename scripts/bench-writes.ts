/**
 * `npm run bench:writes`: how the bytes of large values could reach the disk. A volume
 * writes a streamed value through the page cache (positional writes of
 * engineLimits.prepareStreamBufferBytes, one in flight while the next buffer fills, then an
 * fdatasync; volume/prepare-writer.ts); the other way is O_DIRECT from aligned buffers, which
 * skips the copy into the page cache but waits for the device on every write. Each way
 * writes new files (as new values take new pages), by one writer and by three at once (the
 * three volumes of a cluster on one disk), and prints MB/s per writer and the process's
 * CPU per 64 MiB written (user and system, all threads), as median (min–max) over
 * interleaved repetitions.
 *
 * Environment: BENCH_FILES (files of 64 MiB per writer and run, 4), BENCH_REPETITIONS (3),
 * BENCH_DIR (where the temporary directory goes: the disk to measure; the system's temp
 * directory by default). The directory is removed at the end.
 */
import { closeSync, constants, openSync, readSync, writeFileSync } from "node:fs";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { engineLimits } from "../volume/engine-limits.js";
import { spread } from "./bench/closed-loop.js";

const FILES = Number(process.env["BENCH_FILES"] ?? 4);
const REPETITIONS = Number(process.env["BENCH_REPETITIONS"] ?? 3);
const FILE_BYTES = 64 * 1024 * 1024;
const WRITE_BYTES = engineLimits.prepareStreamBufferBytes;
/** File offsets and lengths of direct writes are multiples of this (a page: safe on any disk). */
const ALIGN = 4096;

interface Way {
  readonly name: string;
  readonly direct: boolean;
  readonly writers: number;
}

const WAYS: readonly Way[] = [
  { name: "page cache, then fdatasync", direct: false, writers: 1 },
  { name: "O_DIRECT", direct: true, writers: 1 },
  { name: "page cache, then fdatasync", direct: false, writers: 3 },
  { name: "O_DIRECT", direct: true, writers: 3 },
];

interface Sample {
  /** MB/s of one writer (the writers' mean). */
  readonly mbPerSecond: number;
  readonly userMs: number;
  readonly systemMs: number;
}

/**
 * A buffer of `bytes` whose address suits O_DIRECT. JavaScript cannot see an address, so
 * the buffer is cut from a larger one at the first offset from which a direct read of the
 * probe file succeeds (a misaligned one fails with EINVAL and reads nothing).
 */
function alignedBuffer(bytes: number, probeFd: number): Buffer {
  const raw = Buffer.allocUnsafeSlow(bytes + ALIGN);
  for (let at = 0; at < ALIGN; at += 16) {
    try {
      readSync(probeFd, raw, at, ALIGN, 0);
      return raw.subarray(at, at + bytes);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EINVAL") throw err;
    }
  }
  throw new Error("no offset of the buffer suits O_DIRECT");
}

/** The probe file's descriptor, opened O_DIRECT; undefined if the file system refuses O_DIRECT. */
function openProbe(dir: string): number | undefined {
  const path = join(dir, "probe");
  writeFileSync(path, Buffer.alloc(ALIGN));
  try {
    return openSync(path, constants.O_RDONLY | constants.O_DIRECT);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EINVAL") return undefined;
    throw err;
  }
}

/** Writes FILES new files of 64 MiB, two buffers: one write in flight while the next fills. */
async function writer(
  dir: string,
  name: string,
  direct: boolean,
  buffers: readonly [Buffer, Buffer],
): Promise<void> {
  const source = Buffer.allocUnsafe(WRITE_BYTES);
  for (let f = 0; f < FILES; f++) {
    const flags =
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (direct ? constants.O_DIRECT : 0);
    const handle = await open(join(dir, `${name}-${f}`), flags, 0o644);
    try {
      let inFlight: Promise<unknown> = Promise.resolve();
      for (let position = 0, i = 0; position < FILE_BYTES; position += WRITE_BYTES, i++) {
        const buffer = buffers[i % 2 === 0 ? 0 : 1];
        await inFlight;
        // Fresh bytes each write, as a stream's would be (the copy a volume makes into its buffer).
        source.fill(i & 0xff);
        source.copy(buffer);
        inFlight = handle.write(buffer, 0, WRITE_BYTES, position);
      }
      await inFlight;
      await handle.datasync();
    } finally {
      await handle.close();
    }
  }
}

async function run(dir: string, way: Way, probeFd: number): Promise<Sample> {
  const buffer = (): Buffer =>
    way.direct ? alignedBuffer(WRITE_BYTES, probeFd) : Buffer.allocUnsafe(WRITE_BYTES);
  const buffers = Array.from({ length: way.writers }, (): [Buffer, Buffer] => [buffer(), buffer()]);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(buffers.map((own, w) => writer(dir, `writer-${w}`, way.direct, own)));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const units = way.writers * FILES;
  return {
    mbPerSecond: (FILES * FILE_BYTES) / 1e6 / seconds,
    userMs: cpu.user / 1000 / units,
    systemMs: cpu.system / 1000 / units,
  };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(process.env["BENCH_DIR"] ?? tmpdir(), "minikv-bench-writes-"));
  try {
    const probeFd = openProbe(dir);
    if (probeFd === undefined) {
      console.log(`O_DIRECT is not supported on the file system of ${dir}`);
      return;
    }
    const samples = new Map<Way, Sample[]>();
    try {
      for (let r = 0; r < REPETITIONS; r++) {
        // Interleaved: every way once per repetition, so drift hits all alike.
        for (const way of WAYS) {
          const list = samples.get(way) ?? [];
          // Each run writes into a directory of its own, removed before the next run.
          const runDir = await mkdtemp(join(dir, "run-"));
          try {
            list.push(await run(runDir, way, probeFd));
          } finally {
            await rm(runDir, { recursive: true, force: true });
          }
          samples.set(way, list);
        }
      }
    } finally {
      closeSync(probeFd);
    }
    console.log(
      `\n${FILES} new files of 64 MiB per writer and run, ${WRITE_BYTES / 1024} KiB writes, ` +
        `${REPETITIONS} interleaved runs, median (min–max), in ${dir}\n`,
    );
    console.log(
      "| write | writers at once | MB/s per writer | user CPU ms per 64 MiB | system CPU ms per 64 MiB |",
    );
    console.log("|---|---|---|---|---|");
    for (const way of WAYS) {
      const list = samples.get(way) ?? [];
      console.log(
        `| ${way.name} | ${way.writers} | ${spread(list.map((s) => s.mbPerSecond))} | ` +
          `${spread(list.map((s) => s.userMs))} | ${spread(list.map((s) => s.systemMs))} |`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
