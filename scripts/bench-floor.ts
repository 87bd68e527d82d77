/**
 * `npm run bench:floor`: the CPU under a 4 KiB PUT that no code of minikv's can remove on
 * this machine. Six processes stand where a cluster's do (a leader taking HTTP PUTs, two
 * followers, three volumes) and exchange what every minikv write must: the value to three
 * volumes over gRPC streams and a durable write on each, the metadata entry to the
 * followers over gRPC streams and an fsynced LevelDB batch on each node, the apply into
 * LevelDB, the 201, and a commit record written on each volume. Requests of one turn of the
 * event loop leave in one message and each process keeps one durable write in flight, as
 * minikv batches. Nothing else is done: no protobuf, no record format or CRCs, no Raft
 * core, elections or heartbeats (an idle minikv coordinator spends 33–49 ms of CPU a
 * second on them), no placement, checks, metrics or logs, and the apply is not fsynced
 * (minikv's is, `--sync-apply on`; the log is in both). The load is the
 * peers' `wrk` harness (loadgen/wrk-run.sh), as for scripts/cpu-per-op.sh, which runs the
 * real cluster with the same load after each floor run, so both are measured side by side.
 *
 * Prints, as median (min–max) over the runs, PUTs per second and each role's CPU per PUT
 * (user + system, all threads, from /proc/<pid>/stat).
 *
 * BENCH_VOLUMES=minikv puts three real `minikv-volume` processes behind the floor's leader,
 * which then prepares and commits through common/volume-client.ts (the Pipe call, protobuf
 * and all): the difference to the floor's own volumes is what a minikv volume, and the
 * client's side of the Pipe, cost.
 *
 * Environment: PEERS_DIR (../shared/peers), BENCH_PUTS (20000), BENCH_CONCURRENCY (64),
 * BENCH_RUNS (2), BENCH_MINIKV=0 (floor only), BENCH_VOLUMES (floor | minikv). Binds 127.0.0.1 only; every process it
 * starts is stopped by PID and its temporary directory removed.
 */
import { execFile, fork, spawn, type ChildProcess } from "node:child_process";
import { constants, existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, open, rm, type FileHandle } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { Level } from "level";
import { freePorts } from "../common/free-ports.js";
import { SERVER_ENV, SERVER_NODE_FLAGS } from "../common/node-flags.js";
import { VolumeClient } from "../common/volume-client.js";
import { spread } from "./bench/closed-loop.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "..", "..");
const PEERS = process.env["PEERS_DIR"] ?? join(ROOT, "..", "shared", "peers");
const PUTS = Number(process.env["BENCH_PUTS"] ?? 20_000);
const CONCURRENCY = Number(process.env["BENCH_CONCURRENCY"] ?? 64);
const RUNS = Number(process.env["BENCH_RUNS"] ?? 2);
const WITH_MINIKV = process.env["BENCH_MINIKV"] !== "0";
const VOLUMES_KIND = process.env["BENCH_VOLUMES"] ?? "floor";
const VALUE_BYTES = 4096;
const READY_TIMEOUT_MS = 20_000;
/** Bound of one wrk run (seconds), passed to wrk-run.sh. */
const LOAD_SECONDS_MAX = 300;

type Bytes = Buffer;
const identity = (bytes: Bytes): Bytes => bytes;
const floorService: grpc.ServiceDefinition = {
  stream: {
    path: "/minikv.floor.Floor/Stream",
    requestStream: true,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};
type FloorStream = grpc.ClientDuplexStream<Bytes, Bytes>;
type FloorClient = grpc.Client & { stream(): FloorStream };
const FloorClientCtor = grpc.makeGenericClientConstructor(floorService, "Floor");

function connect(address: string): FloorStream {
  const client = new FloorClientCtor(address, grpc.credentials.createInsecure()) as unknown as FloorClient;
  return client.stream();
}

/** Serves the one stream method on 127.0.0.1 and resolves with the port. */
async function serve(onStream: (call: grpc.ServerDuplexStream<Bytes, Bytes>) => void): Promise<number> {
  const server = new grpc.Server();
  server.addService(floorService, { stream: onStream });
  return new Promise((resolvePort, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) =>
      err === null ? resolvePort(port) : reject(err),
    ),
  );
}

/** Messages: u32 count, then per item u32 id, u32 length, the bytes. Replies: u32 count, u32 ids. */
function encodeItems(items: readonly { id: number; bytes: Bytes }[]): Bytes {
  let total = 4;
  for (const item of items) total += 8 + item.bytes.length;
  const out = Buffer.allocUnsafe(total);
  out.writeUInt32LE(items.length, 0);
  let at = 4;
  for (const item of items) {
    out.writeUInt32LE(item.id, at);
    out.writeUInt32LE(item.bytes.length, at + 4);
    item.bytes.copy(out, at + 8);
    at += 8 + item.bytes.length;
  }
  return out;
}

function decodeIds(message: Bytes, withBytes: boolean): number[] {
  const count = message.readUInt32LE(0);
  const ids: number[] = [];
  let at = 4;
  for (let i = 0; i < count; i++) {
    ids.push(message.readUInt32LE(at));
    at += withBytes ? 8 + message.readUInt32LE(at + 4) : 4;
  }
  return ids;
}

function encodeIds(ids: readonly number[]): Bytes {
  const out = Buffer.allocUnsafe(4 + 4 * ids.length);
  out.writeUInt32LE(ids.length, 0);
  ids.forEach((id, i) => out.writeUInt32LE(id, 4 + 4 * i));
  return out;
}

/**
 * One durable write at a time; what arrives meanwhile goes into the next round (group
 * commit). `done` runs after the round's write returned.
 */
class Rounds<T> {
  private queue: T[] = [];
  private writing = false;

  constructor(private readonly write: (batch: readonly T[]) => Promise<void>) {}

  add(item: T): void {
    this.queue.push(item);
    if (!this.writing) void this.run();
  }

  private async run(): Promise<void> {
    this.writing = true;
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      await this.write(batch);
    }
    this.writing = false;
  }
}

// ---- a volume: each message's bytes in one O_DSYNC append per round, then the ids back ----

async function runVolume(dir: string): Promise<number> {
  const file: FileHandle = await open(
    join(dir, "values"),
    constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_DSYNC,
  );
  const rounds = new Rounds<{ call: grpc.ServerDuplexStream<Bytes, Bytes>; message: Bytes }>(
    async (batch) => {
      await file.writev(batch.map((b) => b.message));
      for (const { call, message } of batch) call.write(encodeIds(decodeIds(message, true)));
    },
  );
  return serve((call) => call.on("data", (message: Bytes) => rounds.add({ call, message })));
}

// ---- a follower: entries in one fsynced LevelDB batch per round, applied once committed ----

async function runFollower(dir: string): Promise<number> {
  const db = new Level<Bytes, Bytes>(join(dir, "db"), { keyEncoding: "buffer", valueEncoding: "buffer" });
  await db.open();
  const unapplied = new Map<number, Bytes>();
  let applied = 0;
  const rounds = new Rounds<{ call: grpc.ServerDuplexStream<Bytes, Bytes>; message: Bytes }>(
    async (batch) => {
      const log = db.batch();
      let commit = applied;
      let last = applied;
      for (const { message } of batch) {
        commit = Math.max(commit, message.readUInt32LE(0));
        for (const entry of entriesOf(message)) {
          log.put(indexKey(entry.index), entry.bytes);
          unapplied.set(entry.index, entry.bytes);
          last = entry.index;
        }
      }
      await log.write({ sync: true });
      applied = await applyUpTo(db, unapplied, applied, commit);
      for (const { call } of batch) call.write(encodeIds([last]));
    },
  );
  return serve((call) => call.on("data", (message: Bytes) => rounds.add({ call, message })));
}

/** Append messages: u32 commit index, then the items of encodeItems with the entry's index as id. */
function entriesOf(message: Bytes): { index: number; bytes: Bytes }[] {
  const items = message.subarray(4);
  const count = items.readUInt32LE(0);
  const out: { index: number; bytes: Bytes }[] = [];
  let at = 4;
  for (let i = 0; i < count; i++) {
    const length = items.readUInt32LE(at + 4);
    out.push({ index: items.readUInt32LE(at), bytes: items.subarray(at + 8, at + 8 + length) });
    at += 8 + length;
  }
  return out;
}

function indexKey(index: number): Bytes {
  const key = Buffer.allocUnsafe(5);
  key.writeUInt8(0x65, 0);
  key.writeUInt32BE(index, 1);
  return key;
}

/**
 * Puts each entry after `from` up to `to` (those received) under the key it names (its
 * first 64 bytes); returns the last index applied.
 */
async function applyUpTo(
  db: Level<Bytes, Bytes>,
  entries: Map<number, Bytes>,
  from: number,
  to: number,
): Promise<number> {
  const state = db.batch();
  let index = from;
  for (; index < to; index++) {
    const entry = entries.get(index + 1);
    if (entry === undefined) break;
    state.put(entry.subarray(0, Math.min(64, entry.length)), entry);
    entries.delete(index + 1);
  }
  await state.write({ sync: false });
  return index;
}

// ---- the leader: HTTP in, prepare on three volumes, replicate, apply, answer, commit ----

interface Put {
  readonly res: ServerResponse;
  readonly key: string;
  readonly size: number;
  votes: number;
}

/** The leader's side of the volumes. Each volume's yes vote calls `voted(id)`; a failed prepare `failed(id)`. */
interface VolumeSide {
  prepare(id: number, key: string, body: Bytes): void;
  commit(id: number, index: number): void;
}

type Votes = { readonly voted: (id: number) => void; readonly failed: (id: number) => void };

/** The floor's own protocol: the requests of a turn in one message to every volume. */
function floorVolumeSide(addresses: readonly string[], votes: Votes): VolumeSide {
  const streams = addresses.map(connect);
  let batch: { id: number; bytes: Bytes }[] = [];
  const send = (item: { id: number; bytes: Bytes }): void => {
    if (batch.length === 0) {
      setImmediate(() => {
        const message = encodeItems(batch);
        batch = [];
        for (const stream of streams) stream.write(message);
      });
    }
    batch.push(item);
  };
  // Commit records are answered too; their ids are no longer waiting for votes.
  for (const stream of streams) {
    stream.on("data", (reply: Bytes) => {
      for (const id of decodeIds(reply, false)) votes.voted(id);
    });
  }
  return {
    prepare: (id, _key, body) => send({ id, bytes: body }),
    commit: (id, index) => send({ id, bytes: Buffer.from(`commit floor.${id} ${index}`) }),
  };
}

/** Real minikv volumes through common/volume-client.ts. */
function minikvVolumeSide(addresses: readonly string[], votes: Votes): VolumeSide {
  const clients = addresses.map((address) => new VolumeClient(address));
  return {
    prepare: (id, key, body) => {
      const header = { txid: `floor.${id}`, key, size: body.length, crc32c: 0, crc32cUnknown: true };
      for (const client of clients) {
        client.prepare(header, [body]).then(
          () => votes.voted(id),
          () => votes.failed(id),
        );
      }
    },
    commit: (id, index) => {
      for (const client of clients) {
        client
          .commit(`floor.${id}`, index)
          .catch((err: unknown) => console.error(`commit failed: ${String(err)}`));
      }
    },
  };
}

async function runLeader(
  dir: string,
  volumes: readonly string[],
  followers: readonly string[],
  volumesKind: string,
): Promise<number> {
  const db = new Level<Bytes, Bytes>(join(dir, "db"), { keyEncoding: "buffer", valueEncoding: "buffer" });
  await db.open();
  const puts = new Map<number, Put>();
  let nextId = 0;
  const votes = { voted, failed };
  const volumeSide =
    volumesKind === "minikv" ? minikvVolumeSide(volumes, votes) : floorVolumeSide(volumes, votes);

  // Raft's part: entries get indexes; durable on the leader and one follower = committed.
  const entries = new Map<number, { id: number; bytes: Bytes }>();
  let lastIndex = 0;
  let durable = 0;
  let committed = 0;
  const matched = followers.map(() => 0);
  let unsent: { id: number; bytes: Bytes }[] = [];
  const followerStreams = followers.map(connect);
  const logRounds = new Rounds<{ index: number; bytes: Bytes }>(async (batch) => {
    const log = db.batch();
    for (const entry of batch) log.put(indexKey(entry.index), entry.bytes);
    await log.write({ sync: true });
    durable = Math.max(durable, batch.at(-1)?.index ?? 0);
    await advance();
  });
  const propose = (id: number, put: Put): void => {
    lastIndex += 1;
    const bytes = Buffer.from(
      JSON.stringify({
        op: "putBlob",
        key: put.key,
        size: put.size,
        crc32c: 0,
        contentType: "application/octet-stream",
        replicas: volumes,
        txid: `floor.${id}`,
        atMs: Date.now(),
      }),
    );
    entries.set(lastIndex, { id, bytes });
    logRounds.add({ index: lastIndex, bytes });
    if (unsent.length === 0) setImmediate(sendAppends);
    unsent.push({ id: lastIndex, bytes });
  };
  function sendAppends(): void {
    const items = encodeItems(unsent);
    unsent = [];
    const message = Buffer.allocUnsafe(4 + items.length);
    message.writeUInt32LE(committed, 0);
    items.copy(message, 4);
    for (const stream of followerStreams) stream.write(message);
  }
  followerStreams.forEach((stream, i) =>
    stream.on("data", (reply: Bytes) => {
      matched[i] = Math.max(matched[i] ?? 0, decodeIds(reply, false)[0] ?? 0);
      void advance();
    }),
  );
  let applying = false;
  async function advance(): Promise<void> {
    const commit = Math.min(durable, Math.max(...matched));
    if (applying || commit <= committed) return;
    applying = true;
    const from = committed;
    committed = commit;
    const state = db.batch();
    for (let index = from + 1; index <= commit; index++) {
      const entry = entries.get(index);
      if (entry !== undefined) state.put(entry.bytes.subarray(0, 64), entry.bytes);
    }
    await state.write({ sync: false });
    for (let index = from + 1; index <= commit; index++) {
      const entry = entries.get(index);
      entries.delete(index);
      const put = entry === undefined ? undefined : puts.get(entry.id);
      if (entry === undefined || put === undefined) continue;
      puts.delete(entry.id);
      put.res.writeHead(201, { "content-type": "application/json" });
      put.res.end(JSON.stringify({ key: put.key, version: index, size: put.size }));
      volumeSide.commit(entry.id, index);
    }
    applying = false;
    void advance();
  }
  function voted(id: number): void {
    const put = puts.get(id);
    if (put === undefined) return; // a commit record's answer, or a failed PUT's
    put.votes += 1;
    if (put.votes === volumes.length) propose(id, put);
  }
  function failed(id: number): void {
    const put = puts.get(id);
    if (put === undefined) return;
    puts.delete(id);
    put.res.writeHead(503).end();
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Bytes[] = [];
    req.on("data", (chunk: Bytes) => chunks.push(chunk));
    req.on("end", () => {
      const body = chunks.length === 1 ? (chunks[0] as Bytes) : Buffer.concat(chunks);
      nextId = (nextId + 1) >>> 0;
      const url = req.url ?? "";
      const key = url.slice(url.lastIndexOf("/") + 1);
      puts.set(nextId, { res, key, size: body.length, votes: 0 });
      volumeSide.prepare(nextId, key, body);
    });
  };
  const server = createServer(onRequest);
  return new Promise((resolvePort) =>
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      resolvePort(typeof address === "object" && address !== null ? address.port : 0);
    }),
  );
}

// ---- the driver ----------------------------------------------------------------------------

interface Started {
  readonly child: ChildProcess;
  readonly port: number;
}

function start(role: string, args: readonly string[]): Promise<Started> {
  const child = fork(fileURLToPath(import.meta.url), [role, ...args], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  running.children.add(child);
  return new Promise((resolveStart, reject) => {
    const timer = setTimeout(() => reject(new Error(`${role} did not start`)), READY_TIMEOUT_MS);
    child.once("message", (message: { port: number }) => {
      clearTimeout(timer);
      resolveStart({ child, port: message.port });
    });
    child.once("exit", (code) => reject(new Error(`${role} exited with ${code}`)));
  });
}

/** User + system CPU time of a process, all threads, in µs. */
function cpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1e6) / 100;
}

function run(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const script = execFile(command, args, { env, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      running.scripts.delete(script);
      if (err === null) resolveRun(stdout);
      else reject(new Error(`${command} failed: ${stderr || err.message}`));
    });
    running.scripts.add(script);
  });
}

function wrk(url: string, count: number, prefix: string): Promise<string> {
  const args = ["-m", "put", "-s", String(VALUE_BYTES), "-n", String(count), "-c", String(CONCURRENCY)];
  args.push("-p", prefix, "-d", String(LOAD_SECONDS_MAX), url);
  return run(join(PEERS, "loadgen", "wrk-run.sh"), args);
}

interface Figures {
  readonly putsPerSecond: number;
  /** CPU per PUT in µs. */
  readonly leader: number;
  readonly followers: number;
  readonly volumes: number;
}

/** What a floor run has started, stopped by stopAll() also when the driver is interrupted. */
const running = {
  children: new Set<ChildProcess>(),
  scripts: new Set<ChildProcess>(),
  dirs: new Set<string>(),
};

async function stopAll(): Promise<void> {
  for (const child of running.children) child.kill("SIGKILL");
  running.children.clear();
  // wrk-run.sh and cpu-per-op.sh stop what they started on TERM.
  for (const script of running.scripts) script.kill("SIGTERM");
  running.scripts.clear();
  await Promise.all([...running.dirs].map((dir) => rm(dir, { recursive: true, force: true })));
  running.dirs.clear();
}

/** Three `minikv-volume serve` processes as scripts/cluster-up.sh starts them (no coordinator answers). */
async function startMinikvVolumes(dir: string): Promise<Started[]> {
  const ports = await freePorts(7);
  const nowhere = `http://127.0.0.1:${ports[6] ?? 0}`;
  const started: Started[] = [];
  for (let i = 0; i < 3; i++) {
    const http = ports[2 * i] ?? 0;
    const grpcPort = ports[2 * i + 1] ?? 0;
    const name = `vol-${i + 1}`;
    const args = [
      ...SERVER_NODE_FLAGS.volume,
      join(ROOT, "dist", "volume", "main.js"),
      "serve",
      "--id",
      name,
    ];
    args.push("--bind", `127.0.0.1:${http}`, "--grpc", `127.0.0.1:${grpcPort}`, "--coordinators", nowhere);
    args.push("--data", join(dir, name, "data"), "--wal", join(dir, name, "wal"));
    const child = spawn(process.execPath, args, {
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, ...SERVER_ENV, MINIKV_LOG_LEVEL: "error" },
    });
    running.children.add(child);
    await untilListening(`http://127.0.0.1:${http}/health`);
    started.push({ child, port: grpcPort });
  }
  return started;
}

/** Waits (bounded) until a server answers HTTP at `url`, whatever the status. */
async function untilListening(url: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    try {
      await fetch(url);
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`nothing answers at ${url}`);
      await new Promise((resolveWait) => setTimeout(resolveWait, 100));
    }
  }
}

async function floorRun(run: number): Promise<Figures> {
  const dir = await mkdtemp(join(tmpdir(), "minikv-floor-"));
  running.dirs.add(dir);
  try {
    const volumes =
      VOLUMES_KIND === "minikv"
        ? await startMinikvVolumes(dir)
        : await Promise.all([1, 2, 3].map((i) => start("volume", [join(dir, `vol-${i}`)])));
    const followers = await Promise.all([1, 2].map((i) => start("follower", [join(dir, `follower-${i}`)])));
    const addresses = (list: readonly Started[]): string => list.map((s) => `127.0.0.1:${s.port}`).join(",");
    const leader = await start("leader", [
      join(dir, "leader"),
      addresses(volumes),
      addresses(followers),
      VOLUMES_KIND,
    ]);
    const url = `http://127.0.0.1:${leader.port}/v1/blobs/`;
    await wrk(url, 2000, `pre${run}-`);
    const pids = [leader, ...followers, ...volumes].map((s) => s.child.pid ?? 0);
    const before = pids.map(cpuMicros);
    const result = JSON.parse(await wrk(url, PUTS, `m${run}-`)) as {
      ops_per_s: number;
      ok: number;
      err: number;
    };
    const used = pids.map((pid, i) => (cpuMicros(pid) - (before[i] ?? 0)) / PUTS);
    if (result.err > 0 || result.ok !== PUTS) throw new Error(`floor: ${result.err} of ${PUTS} PUTs failed`);
    const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    return {
      putsPerSecond: result.ops_per_s,
      leader: used[0] ?? 0,
      followers: mean(used.slice(1, 3)),
      volumes: mean(used.slice(3)),
    };
  } finally {
    await stopAll();
  }
}

/** The real cluster under the same load: scripts/cpu-per-op.sh, its PUT row. */
async function minikvRun(): Promise<Figures> {
  const out = await run("bash", [
    join(ROOT, "scripts", "cpu-per-op.sh"),
    "--puts",
    String(PUTS),
    "--gets",
    "1000",
    "--concurrency",
    String(CONCURRENCY),
    "--size",
    String(VALUE_BYTES),
  ]);
  const lines = out.split("\n");
  const header = (lines.find((l) => l.startsWith("| phase")) ?? "").split("|").map((c) => c.trim());
  const row = (lines.find((l) => l.startsWith("| put")) ?? "").split("|").map((c) => c.trim());
  const cells = header.map((name, i) => ({
    name,
    value: Number.parseFloat((row[i] ?? "").replace(/,/g, "")),
  }));
  const of = (test: (name: string) => boolean): number[] =>
    cells.filter((c) => test(c.name)).map((c) => c.value);
  const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    putsPerSecond: Number.parseFloat((row[2] ?? "").replace(/,/g, "")),
    leader: of((n) => n.includes("(leader)"))[0] ?? Number.NaN,
    followers: mean(of((n) => n.startsWith("coord-") && !n.includes("(leader)"))),
    volumes: mean(of((n) => n.startsWith("vol-"))),
  };
}

function table(rows: readonly { name: string; runs: readonly Figures[] }[]): void {
  console.log(
    `\n4 KiB PUTs at c=${CONCURRENCY}, ${PUTS} per run; CPU per PUT in µs (user + system, all threads)\n`,
  );
  console.log("| system | runs | PUTs/s | leader | each follower | each volume | all six |");
  console.log("|---|---|---|---|---|---|---|");
  for (const { name, runs } of rows) {
    const total = runs.map((r) => r.leader + 2 * r.followers + 3 * r.volumes);
    const cells = [
      spread(runs.map((r) => r.putsPerSecond)),
      spread(runs.map((r) => r.leader)),
      spread(runs.map((r) => r.followers)),
      spread(runs.map((r) => r.volumes)),
      spread(total),
    ];
    console.log(`| ${name} | ${runs.length} | ${cells.join(" | ")} |`);
  }
}

async function main(): Promise<void> {
  for (const [name, value] of Object.entries({
    BENCH_PUTS: PUTS,
    BENCH_CONCURRENCY: CONCURRENCY,
    BENCH_RUNS: RUNS,
  })) {
    if (!Number.isInteger(value) || value < 1)
      throw new Error(`bench:floor: ${name} must be a positive integer`);
  }
  if (VOLUMES_KIND !== "floor" && VOLUMES_KIND !== "minikv") {
    throw new Error(`bench:floor: BENCH_VOLUMES is floor or minikv, not ${VOLUMES_KIND}`);
  }
  if (!existsSync(join(PEERS, "loadgen", "wrk-run.sh"))) {
    throw new Error(`bench:floor: no peer harness at ${PEERS} (set PEERS_DIR)`);
  }
  const floor: Figures[] = [];
  const minikv: Figures[] = [];
  for (let i = 0; i < RUNS; i++) {
    floor.push(await floorRun(i));
    console.error(`floor run ${i + 1}: ${floor.at(-1)?.putsPerSecond.toFixed(0)} PUTs/s`);
    if (!WITH_MINIKV) continue;
    minikv.push(await minikvRun());
    console.error(`minikv run ${i + 1}: ${minikv.at(-1)?.putsPerSecond.toFixed(0)} PUTs/s`);
  }
  table([
    {
      name:
        VOLUMES_KIND === "minikv"
          ? "floor with minikv volumes (common/volume-client.ts)"
          : "floor (the same messages, no minikv code)",
      runs: floor,
    },
    ...(WITH_MINIKV ? [{ name: "minikv (scripts/cpu-per-op.sh)", runs: minikv }] : []),
  ]);
}

async function child(role: string, args: readonly string[]): Promise<void> {
  const [dir = "", volumes = "", followers = "", volumesKind = "floor"] = args;
  const port =
    role === "volume"
      ? await runVolume(await made(dir))
      : role === "follower"
        ? await runFollower(await made(dir))
        : await runLeader(await made(dir), volumes.split(","), followers.split(","), volumesKind);
  process.send?.({ port });
  // The driver stops this process by PID; without it, stop too.
  process.on("disconnect", () => process.exit(0));
}

async function made(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  return dir;
}

const [role, ...rest] = process.argv.slice(2);
if (role === undefined) {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => void stopAll().finally(() => process.exit(130)));
  }
}
const done = role === undefined ? main() : child(role, rest);
done.catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
