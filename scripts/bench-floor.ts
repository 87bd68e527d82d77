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
 * BENCH_RUNS (2), BENCH_MINIKV=0 (floor only), BENCH_VOLUMES (floor | minikv). Binds
 * 127.0.0.1 only (port 0); the processes run under test/support/process-harness.ts, which
 * stops them by PID and removes their directory, also when the run is interrupted.
 */
import { execFile, type ChildProcess } from "node:child_process";
import { constants, existsSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { Level } from "level";
import { VolumeClient } from "../common/volume-client.js";
import { VOLUME_SCRIPT } from "../test/support/cluster.js";
import { ProcessHarness, type ManagedProcess } from "../test/support/process-harness.js";
import { spread } from "./bench/closed-loop.js";
import { cpuSecondsOf } from "./bench/proc-cpu.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "..", "..");
const PEERS = process.env["PEERS_DIR"] ?? join(ROOT, "..", "shared", "peers");
const PUTS = Number(process.env["BENCH_PUTS"] ?? 20_000);
const CONCURRENCY = Number(process.env["BENCH_CONCURRENCY"] ?? 64);
const RUNS = Number(process.env["BENCH_RUNS"] ?? 2);
const WITH_MINIKV = process.env["BENCH_MINIKV"] !== "0";
const VOLUMES_KIND = process.env["BENCH_VOLUMES"] ?? "floor";
const VALUE_BYTES = 4096;
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

function decodeItems(message: Bytes): { id: number; bytes: Bytes }[] {
  const count = message.readUInt32LE(0);
  const items: { id: number; bytes: Bytes }[] = [];
  let at = 4;
  for (let i = 0; i < count; i++) {
    const length = message.readUInt32LE(at + 4);
    items.push({ id: message.readUInt32LE(at), bytes: message.subarray(at + 8, at + 8 + length) });
    at += 8 + length;
  }
  return items;
}

function decodeIds(reply: Bytes): number[] {
  return Array.from({ length: reply.readUInt32LE(0) }, (_, i) => reply.readUInt32LE(4 + 4 * i));
}

function encodeIds(ids: readonly number[]): Bytes {
  const out = Buffer.allocUnsafe(4 + 4 * ids.length);
  out.writeUInt32LE(ids.length, 0);
  ids.forEach((id, i) => out.writeUInt32LE(id, 4 + 4 * i));
  return out;
}

/** One durable write at a time; what arrives meanwhile goes into the next round (group commit). */
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
      for (const { call, message } of batch)
        call.write(encodeIds(decodeItems(message).map((item) => item.id)));
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
      // An append: u32 commit index, then the entries as items, each with its index as id.
      for (const { message } of batch) {
        commit = Math.max(commit, message.readUInt32LE(0));
        for (const entry of decodeItems(message.subarray(4))) {
          log.put(indexKey(entry.id), entry.bytes);
          unapplied.set(entry.id, entry.bytes);
          last = entry.id;
        }
      }
      await log.write({ sync: true });
      applied = await applyUpTo(db, unapplied, applied, commit);
      for (const { call } of batch) call.write(encodeIds([last]));
    },
  );
  return serve((call) => call.on("data", (message: Bytes) => rounds.add({ call, message })));
}

/** An applied entry is stored under the key it names: its first 64 bytes. */
function stateKey(entry: Bytes): Bytes {
  return entry.subarray(0, Math.min(64, entry.length));
}

function indexKey(index: number): Bytes {
  const key = Buffer.allocUnsafe(5);
  key.writeUInt8(0x65, 0);
  key.writeUInt32BE(index, 1);
  return key;
}

/** Applies each entry after `from` up to `to` (those received); returns the last index applied. */
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
    state.put(stateKey(entry), entry);
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
      for (const id of decodeIds(reply)) votes.voted(id);
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
      matched[i] = Math.max(matched[i] ?? 0, decodeIds(reply)[0] ?? 0);
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
    const applied: { index: number; id: number }[] = [];
    for (let index = from + 1; index <= commit; index++) {
      const entry = entries.get(index);
      if (entry === undefined) continue;
      entries.delete(index);
      state.put(stateKey(entry.bytes), entry.bytes);
      applied.push({ index, id: entry.id });
    }
    await state.write({ sync: false });
    for (const { index, id } of applied) {
      const put = puts.get(id);
      if (put === undefined) continue;
      puts.delete(id);
      put.res.writeHead(201, { "content-type": "application/json" });
      put.res.end(JSON.stringify({ key: put.key, version: index, size: put.size }));
      volumeSide.commit(id, index);
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

/** A process's address as its listening line gives it. */
function addressOf(server: ManagedProcess, listener: "grpc" | "http"): string {
  return String(server.listening[listener]);
}

function run(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolveRun, reject) => {
    // setsid: the script leads a process group of its own (see stopAll), with the same PID.
    const options = { maxBuffer: 16 * 1024 * 1024 };
    const script = execFile("setsid", [command, ...args], options, (err, stdout, stderr) => {
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

const mean = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

/** What is running now, stopped by stopAll() also when the driver is interrupted. */
const running = { harness: undefined as ProcessHarness | undefined, scripts: new Set<ChildProcess>() };

/** The harness's cleanup in progress: a second stopAll() (a failure after a signal) waits for it. */
let cleaning: Promise<void> = Promise.resolve();

async function stopAll(): Promise<void> {
  // Each script leads its process group: TERM reaches cpu-per-op.sh and the wrk-run.sh under
  // it, which stop what they started (as scripts/benchmark.sh stops its stages).
  for (const script of running.scripts) {
    try {
      if (script.pid !== undefined) process.kill(-script.pid, "SIGTERM");
    } catch {
      // Its group has ended already.
    }
  }
  running.scripts.clear();
  const harness = running.harness;
  running.harness = undefined;
  if (harness !== undefined) cleaning = harness.cleanup();
  await cleaning;
}

const FLOOR_SCRIPT = fileURLToPath(import.meta.url);

/** Three floor volumes, or three `minikv-volume serve` processes without coordinators. */
async function startVolumes(harness: ProcessHarness): Promise<ManagedProcess[]> {
  const volumes: ManagedProcess[] = [];
  for (const name of ["vol-1", "vol-2", "vol-3"]) {
    if (VOLUMES_KIND !== "minikv") {
      volumes.push(
        await harness.start({ name, script: FLOOR_SCRIPT, args: ["volume", await harness.dir(name)] }),
      );
      continue;
    }
    const args = [
      "serve",
      "--id",
      name,
      "--bind",
      "127.0.0.1:0",
      "--grpc",
      "127.0.0.1:0",
      "--coordinators",
      "",
    ];
    args.push("--data", await harness.dir(`${name}/data`), "--wal", await harness.dir(`${name}/wal`));
    volumes.push(await harness.start({ name, script: VOLUME_SCRIPT, role: "volume", args }));
  }
  return volumes;
}

async function floorRun(run: number): Promise<Figures> {
  const harness = await ProcessHarness.create("minikv-floor-");
  running.harness = harness;
  try {
    const volumes = await startVolumes(harness);
    const followers: ManagedProcess[] = [];
    for (const name of ["follower-1", "follower-2"]) {
      followers.push(
        await harness.start({ name, script: FLOOR_SCRIPT, args: ["follower", await harness.dir(name)] }),
      );
    }
    const grpcAddresses = (list: readonly ManagedProcess[]): string =>
      list.map((p) => addressOf(p, "grpc")).join(",");
    const leader = await harness.start({
      name: "leader",
      script: FLOOR_SCRIPT,
      args: [
        "leader",
        await harness.dir("leader"),
        grpcAddresses(volumes),
        grpcAddresses(followers),
        VOLUMES_KIND,
      ],
    });
    const url = `http://${addressOf(leader, "http")}/v1/blobs/`;
    await wrk(url, 2000, `pre${run}-`);
    const pids = [leader, ...followers, ...volumes].map((p) => p.pid ?? 0);
    const before = pids.map(cpuSecondsOf);
    const result = JSON.parse(await wrk(url, PUTS, `m${run}-`)) as {
      ops_per_s: number;
      ok: number;
      err: number;
    };
    const used = pids.map((pid, i) => ((cpuSecondsOf(pid) - (before[i] ?? 0)) * 1e6) / PUTS);
    if (result.err > 0 || result.ok !== PUTS) throw new Error(`floor: ${result.err} of ${PUTS} PUTs failed`);
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

/** A floor process: serves, then prints its listening line for the harness. */
async function child(role: string, args: readonly string[]): Promise<void> {
  const [dir = "", volumes = "", followers = "", volumesKind = "floor"] = args;
  if (role === "leader") {
    const port = await runLeader(dir, volumes.split(","), followers.split(","), volumesKind);
    console.log(JSON.stringify({ event: "listening", http: `127.0.0.1:${port}` }));
    return;
  }
  const port = role === "volume" ? await runVolume(dir) : await runFollower(dir);
  console.log(JSON.stringify({ event: "listening", grpc: `127.0.0.1:${port}` }));
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
  void stopAll().finally(() => process.exit(1));
});
