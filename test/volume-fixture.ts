import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync, statSync } from "node:fs";
import { mkdtemp, open, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { crc32c } from "../common/hashing.js";
import { VolumeClient } from "../common/volume-client.js";
import { REPO_ROOT } from "./support/process-harness.js";
import {
  startVolumeServer,
  type VolumeServerHandle,
  type VolumeServerOptions,
} from "../volume/volume-server.js";

/** A volume server running in this process on loopback ephemeral ports, with a client. */
export interface TestVolume {
  readonly server: VolumeServerHandle;
  readonly client: VolumeClient;
  readonly dir: string;
  readonly dataDir: string;
  readonly walDir: string;
  /** "http://127.0.0.1:port" of the HTTP endpoint. */
  readonly httpUrl: string;
  /** Closes client and server (idempotent) and removes the temp dir. */
  cleanup(): Promise<void>;
}

export type TestVolumeOptions = Partial<Omit<VolumeServerOptions, "storage">> & {
  readonly storage?: Partial<VolumeServerOptions["storage"]>;
  /** Reuse this directory (restart after close); a new temp dir when absent. */
  readonly dir?: string;
};

/** Starts a standalone volume (no coordinators unless given) in a temp dir under os.tmpdir(). */
export async function startTestVolume(options: TestVolumeOptions = {}): Promise<TestVolume> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), "minikv-volume-test-")));
  const dataDir = join(dir, "data");
  const walDir = join(dir, "wal");
  const { storage, dir: _dir, ...rest } = options;
  const server = await startVolumeServer({
    id: "vol-test",
    http: { host: "127.0.0.1", port: 0 },
    grpc: { host: "127.0.0.1", port: 0 },
    coordinatorUrls: [],
    shutdownGraceMs: 2_000,
    ...rest,
    storage: { dataDir, walDir, ...storage },
  });
  const client = new VolumeClient(server.grpcAddress);
  return {
    server,
    client,
    dir,
    dataDir,
    walDir,
    httpUrl: `http://${server.httpAddress}`,
    async cleanup() {
      client.close();
      await server.close();
      if (options.dir === undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A random value with its CRC32C and SHA-256. */
export interface TestValue {
  readonly bytes: Buffer;
  readonly crc32c: number;
  readonly sha256: string;
}

export function testValue(sizeBytes: number): TestValue {
  const bytes = randomBytes(sizeBytes);
  return { bytes, crc32c: crc32c(bytes), sha256: sha256Of(bytes) };
}

export function sha256Of(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The value split into chunks of `chunkBytes`, as a prepare body. */
export function* chunksOf(bytes: Buffer, chunkBytes = 64 * 1024): Generator<Buffer> {
  for (let at = 0; at < bytes.length; at += chunkBytes) yield bytes.subarray(at, at + chunkBytes);
}

/** Prepares and commits `value` under `key` at `version` (a whole 2PC write on one volume). */
export async function putValue(
  client: VolumeClient,
  key: string,
  value: TestValue,
  version: number,
  txid = `tx-${key}-${version}`,
): Promise<void> {
  await client.prepare({ txid, key, size: value.bytes.length, crc32c: value.crc32c }, chunksOf(value.bytes));
  await client.commit(txid, version);
}

/** Reads a whole stream into memory (tests only: values here are small). */
export async function readAll(stream: Readable | AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** A small seeded PRNG (mulberry32): every random choice of a test replays from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The compiled `minikv-volume` (multi-process tests run dist/, built by `npm test`'s
 * pretest). Fails loudly when dist/ is missing or older than the volume's sources, rather
 * than testing stale code.
 */
export function volumeBinary(): string {
  const binary = join(REPO_ROOT, "dist", "volume", "main.js");
  if (!existsSync(binary)) throw new Error(`${binary} is missing: run \`npm run build\` first`);
  const builtMs = statSync(binary).mtimeMs;
  for (const dir of ["volume", "common"]) {
    for (const name of readdirSync(join(REPO_ROOT, dir))) {
      if (!name.endsWith(".ts") || name.endsWith(".test.ts")) continue;
      if (statSync(join(REPO_ROOT, dir, name)).mtimeMs > builtMs) {
        throw new Error(`dist/ is older than ${dir}/${name}: run \`npm run build\` first`);
      }
    }
  }
  return binary;
}

/**
 * Flips one byte at `offsetInValue` of every stored copy of `value` under `dir` (a disk error
 * the engine did not cause). Returns how many copies were hit.
 */
export async function flipStoredByte(dir: string, value: Buffer, offsetInValue: number): Promise<number> {
  const probe = value.subarray(offsetInValue, offsetInValue + 64);
  let hits = 0;
  for (const file of await filesUnder(dir)) {
    const bytes = await readFile(file);
    for (let at = bytes.indexOf(probe); at >= 0; at = bytes.indexOf(probe, at + 1)) {
      const handle = await open(file, "r+");
      try {
        await handle.write(Buffer.from([(bytes[at] ?? 0) ^ 0xff]), 0, 1, at);
        await handle.sync();
      } finally {
        await handle.close();
      }
      hits++;
    }
  }
  return hits;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    if ((await stat(path)).isDirectory()) out.push(...(await filesUnder(path)));
    else out.push(path);
  }
  return out;
}
