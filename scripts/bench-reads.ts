/**
 * `npm run bench:reads`: what one small positional read costs the reading process, through
 * libuv's thread pool (FileHandle.read, as readAt() in volume/durable-fs.ts) and as a
 * blocking pread on the calling thread (readSync, as readAtNow()). The volume reads records
 * of at most engineLimits.syncReadBytesMax the second way; this is the measurement behind
 * that choice. Reads hit the page cache (the file is written just before), at random
 * 4 KiB-aligned offsets. Prints, per way and size, reads/s and the process's CPU per read
 * (user and system, all threads), as median (min–max) over interleaved repetitions.
 *
 * Environment: BENCH_READS (20,000 per run), BENCH_REPETITIONS (5), BENCH_FILE_MIB (64).
 * The file lives in a temporary directory that is removed at the end.
 */
import { readSync } from "node:fs";
import { mkdtemp, open, rm, writeFile, type FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spread } from "./bench/closed-loop.js";

const READS = Number(process.env["BENCH_READS"] ?? 20_000);
const REPETITIONS = Number(process.env["BENCH_REPETITIONS"] ?? 5);
const FILE_BYTES = Number(process.env["BENCH_FILE_MIB"] ?? 64) * 1024 * 1024;
const PAGE = 4096;

interface Way {
  readonly name: string;
  readonly blocking: boolean;
  /** Readers with one read in flight each (a blocking pread has one by nature). */
  readonly concurrency: number;
}

const WAYS: readonly Way[] = [
  { name: "thread pool, 1 in flight", blocking: false, concurrency: 1 },
  { name: "thread pool, 8 in flight", blocking: false, concurrency: 8 },
  { name: "blocking pread", blocking: true, concurrency: 1 },
];
const SIZES = [4096, 65536];

interface Sample {
  readonly perSecond: number;
  readonly userUs: number;
  readonly systemUs: number;
}

async function run(handle: FileHandle, way: Way, size: number): Promise<Sample> {
  const slots = Math.floor((FILE_BYTES - size) / PAGE);
  const offset = (): number => Math.floor(Math.random() * slots) * PAGE;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  if (way.blocking) {
    const buffer = Buffer.allocUnsafe(size);
    for (let i = 0; i < READS; i++) readSync(handle.fd, buffer, 0, size, offset());
  } else {
    let issued = 0;
    const reader = async (): Promise<void> => {
      const buffer = Buffer.allocUnsafe(size);
      while (issued < READS) {
        issued++;
        await handle.read(buffer, 0, size, offset());
      }
    };
    await Promise.all(Array.from({ length: way.concurrency }, reader));
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { perSecond: READS / seconds, userUs: cpu.user / READS, systemUs: cpu.system / READS };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "minikv-bench-reads-"));
  try {
    const path = join(dir, "data");
    await writeFile(path, Buffer.alloc(FILE_BYTES, 0x5a));
    const handle = await open(path, "r");
    const samples = new Map<string, Sample[]>();
    try {
      // Interleaved: every way and size once per repetition, so drift hits all alike.
      for (let r = 0; r < REPETITIONS; r++) {
        for (const way of WAYS) {
          for (const size of SIZES) {
            const key = `${way.name}|${size}`;
            const list = samples.get(key) ?? [];
            list.push(await run(handle, way, size));
            samples.set(key, list);
          }
        }
      }
    } finally {
      await handle.close();
    }
    console.log(
      `\n${READS.toLocaleString("en-US")} reads per run, ${REPETITIONS} interleaved runs, median (min–max)\n`,
    );
    console.log("| read | size | reads/s | user CPU µs/read | system CPU µs/read |");
    console.log("|---|---|---|---|---|");
    for (const way of WAYS) {
      for (const size of SIZES) {
        const list = samples.get(`${way.name}|${size}`) ?? [];
        console.log(
          `| ${way.name} | ${size / 1024} KiB | ${spread(list.map((s) => s.perSecond))} | ` +
            `${spread(
              list.map((s) => s.userUs),
              1,
            )} | ${spread(
              list.map((s) => s.systemUs),
              1,
            )} |`,
        );
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
