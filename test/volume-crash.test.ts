import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crc32c } from "../common/hashing.js";
import { isMinikvError } from "../common/errors.js";
import { VolumeClient } from "../common/volume-client.js";
import { ProcessHarness, type ManagedProcess } from "./support/process-harness.js";
import { chunksOf, readAll, seededRandom, sha256Of, volumeBinary } from "./volume-fixture.js";

// Issue 2 §3 "Crash test with real processes": a real minikv-volume process takes
// prepare+commit writes over gRPC and is killed with SIGKILL at random moments, several
// times, once while compaction runs. After every restart, every acknowledged write reads
// back byte-exact (SHA-256), no value is served whose commit was never sent, a value whose
// commit was sent but not acknowledged is either absent or whole, and nothing corrupt is served.
// Writes mix the three kinds of Prepare header (proto PrepareHeader): size and CRC32C given,
// `crc32c_unknown` (the record head is written after the value), `size_unknown` (values
// past the inline limit get a segment of their own); every vote must carry the right size
// and CRC32C.

const HEAVY = process.env["HEAVY"] === "1";
const SEED = Number(process.env["MINIKV_SEED"] ?? Math.floor(Math.random() * 2 ** 31));
const crashBounds = {
  rounds: HEAVY ? 24 : 5,
  writers: 8,
  keyPool: 150,
  /** Compaction rounds tried until a kill lands inside a compaction. */
  compactionRoundsMax: 3,
  /** In a compaction round, the kill comes this long (at most) after compaction starts. */
  compactionKillAfterMsMax: 600,
  logLinesMax: 400,
  /** Fewer acknowledged writes than this means the test exercised nothing. */
  acknowledgedMin: 20,
  /** Generous: a loaded two-core machine runs the default rounds in well under a minute. */
  testTimeoutMs: HEAVY ? 1_800_000 : 180_000,
  /** Writes run this long (ms, drawn per round) before the kill. */
  killAfterMsMin: 250,
  killAfterMsMax: HEAVY ? 3_000 : 1_200,
  /** Verification reads at most this many keys at once. */
  verifyConcurrency: 16,
} as const;

type WriteState = "preparing" | "commit-sent" | "committed";

/** What the writer knows about one write attempt. */
interface WriteAttempt {
  readonly key: string;
  readonly txid: string;
  readonly sha256: string;
  readonly size: number;
  version: number;
  state: WriteState;
}

/** Every write attempt ever made, by key; versions are handed out in commit order, like Raft indexes. */
class Ledger {
  readonly byKey = new Map<string, WriteAttempt[]>();
  private lastVersion = 0;
  private lastTxid = 0;

  begin(key: string, value: Buffer): WriteAttempt {
    const attempt: WriteAttempt = {
      key,
      txid: `crash-tx-${++this.lastTxid}`,
      sha256: sha256Of(value),
      size: value.length,
      version: 0,
      state: "preparing",
    };
    const list = this.byKey.get(key) ?? [];
    list.push(attempt);
    this.byKey.set(key, list);
    return attempt;
  }

  /** Votes whose size or CRC32C differed from the value sent. */
  readonly badVotes: string[] = [];

  nextVersion(): number {
    return ++this.lastVersion;
  }

  summary(): string {
    const all = [...this.byKey.values()].flat();
    const count = (state: WriteState): number => all.filter((a) => a.state === state).length;
    return `${all.length} attempts on ${this.byKey.size} keys: ${count("committed")} acknowledged, ${count("commit-sent")} committed without acknowledgement, ${count("preparing")} never committed`;
  }

  get acknowledged(): number {
    let n = 0;
    for (const list of this.byKey.values()) n += list.filter((a) => a.state === "committed").length;
    return n;
  }
}

function valueSize(random: () => number): number {
  const p = random();
  if (p < 0.7) return Math.floor(random() * 8 * 1024);
  if (p < 0.95) return 8 * 1024 + Math.floor(random() * 248 * 1024);
  return 256 * 1024 + Math.floor(random() * 1792 * 1024);
}

/** One writer: prepare, then commit, forever, recording each step before it happens. */
async function writeLoop(
  client: VolumeClient,
  ledger: Ledger,
  random: () => number,
  stop: AbortSignal,
): Promise<void> {
  while (!stop.aborted) {
    const key = `crash/${Math.floor(random() * crashBounds.keyPool)}`;
    const value = randomBytes(valueSize(random));
    const attempt = ledger.begin(key, value);
    const crc = crc32c(value);
    const mode = Math.floor(random() * 3);
    const header =
      mode === 0
        ? { txid: attempt.txid, key, size: value.length, crc32c: crc }
        : mode === 1
          ? { txid: attempt.txid, key, size: value.length, crc32c: 0, crc32cUnknown: true }
          : { txid: attempt.txid, key, size: 0, crc32c: 0, sizeUnknown: true };
    try {
      const vote = await client.prepare(header, chunksOf(value));
      if (vote.size !== value.length || vote.crc32c !== crc) ledger.badVotes.push(attempt.txid);
      attempt.version = ledger.nextVersion();
      attempt.state = "commit-sent";
      await client.commit(attempt.txid, attempt.version);
      attempt.state = "committed";
    } catch {
      // The volume died under us (or refused): this attempt stays unacknowledged.
      return;
    }
  }
}

/** Back-to-back Compact calls until the volume dies; returns how many completed. */
async function compactLoop(client: VolumeClient, stop: AbortSignal): Promise<number> {
  let completed = 0;
  while (!stop.aborted) {
    try {
      await client.compact();
      completed++;
    } catch {
      return completed;
    }
  }
  return completed;
}

/** Checks one key against the ledger; returns a problem description or undefined. */
async function checkKey(
  client: VolumeClient,
  key: string,
  attempts: readonly WriteAttempt[],
): Promise<string | undefined> {
  const acked = attempts.filter((a) => a.state === "committed");
  const maxAckedVersion = Math.max(0, ...acked.map((a) => a.version));
  let stat;
  try {
    stat = await client.stat(key);
  } catch (err) {
    if (isMinikvError(err, "KEY_NOT_FOUND")) {
      return acked.length === 0 ? undefined : `${key}: acknowledged version ${maxAckedVersion} lost`;
    }
    throw err;
  }
  const served = attempts.find((a) => a.version === stat.version && a.state !== "preparing");
  if (served === undefined) return `${key}: serves version ${stat.version}, whose commit was never sent`;
  if (stat.version < maxAckedVersion)
    return `${key}: serves ${stat.version}, older than acknowledged ${maxAckedVersion}`;
  let bytes: Buffer;
  try {
    bytes = await readAll(client.read(key));
  } catch (err) {
    return `${key}: read failed: ${String(err)}`;
  }
  if (bytes.length !== served.size || sha256Of(bytes) !== served.sha256) {
    return `${key}: version ${stat.version} is not byte-exact (${bytes.length} bytes, expected ${served.size})`;
  }
  return undefined;
}

/** Verifies every key of the ledger, and that the volume holds no key the writer never wrote. */
async function verify(client: VolumeClient, ledger: Ledger): Promise<string[]> {
  const problems: string[] = [];
  const keys = [...ledger.byKey.keys()];
  for (let at = 0; at < keys.length; at += crashBounds.verifyConcurrency) {
    const slice = keys.slice(at, at + crashBounds.verifyConcurrency);
    const found = await Promise.all(slice.map((key) => checkKey(client, key, ledger.byKey.get(key) ?? [])));
    problems.push(...found.filter((p): p is string => p !== undefined));
  }
  for await (const batch of client.listKeys()) {
    for (const entry of batch) {
      if (!ledger.byKey.has(entry.key)) problems.push(`${entry.key}: listed but never written`);
    }
  }
  return problems;
}

describe(`kill -9 of a real minikv-volume process (issue 2 §3), seed=${SEED}`, () => {
  let harness: ProcessHarness;
  let volume: ManagedProcess;

  beforeAll(async () => {
    const binary = volumeBinary();
    harness = await ProcessHarness.create("minikv-volume-crash-");
    const dataDir = await harness.dir("data");
    const walDir = await harness.dir("wal");
    volume = harness.add({
      name: "vol-crash",
      script: binary,
      role: "volume",
      args: [
        "serve",
        ...["--id", "vol-crash", "--bind", "127.0.0.1:0", "--grpc", "127.0.0.1:0"],
        ...["--data", dataDir, "--wal", walDir, "--coordinators", ""],
        // Small segments and an eager threshold: many segments, and compaction that has work.
        ...["--segment-size", "4MiB", "--compaction-threshold", "0.3", "--snapshot-interval", "1s"],
        ...["--shutdown-grace", "2s"],
      ],
      // info: recovery reports whether it found an interrupted compaction.
      env: { MINIKV_LOG_LEVEL: "info" },
    });
  });

  afterAll(async () => {
    await harness?.cleanup();
  });

  /** Runs writers (and back-to-back compactions) against a started volume, then SIGKILLs it. */
  async function crashRound(
    client: VolumeClient,
    ledger: Ledger,
    random: () => number,
    withCompaction: boolean,
  ) {
    const stop = new AbortController();
    const writers = Array.from({ length: crashBounds.writers }, () =>
      writeLoop(client, ledger, random, stop.signal),
    );
    const killAfterMs =
      crashBounds.killAfterMsMin + random() * (crashBounds.killAfterMsMax - crashBounds.killAfterMsMin);
    let compactions = Promise.resolve(0);
    if (withCompaction) {
      // Writers first, so that the segments hold garbage when compaction starts.
      await sleep(killAfterMs);
      compactions = compactLoop(client, stop.signal);
      await sleep(crashBounds.compactionKillAfterMsMax * random());
    } else {
      await sleep(killAfterMs);
    }
    const exit = await volume.kill("SIGKILL");
    expect(exit.signal).toBe("SIGKILL");
    stop.abort();
    await Promise.all(writers);
    return compactions;
  }

  /** The log of the current run only (the harness appends every run to one file). */
  function currentRunLog(): string {
    const log = volume.logTail(crashBounds.logLinesMax);
    return log.slice(log.lastIndexOf(`--- ${volume.name} start #`));
  }

  it(
    "restarts to every acknowledged write and nothing else, round after round",
    async () => {
      const random = seededRandom(SEED);
      const ledger = new Ledger();
      const context = (): string =>
        `seed=${SEED} (MINIKV_SEED=${SEED} replays the kill times)\n${harness.logTails(20)}`;
      let compactionRounds = 0;
      let interruptedCompactions = 0;
      for (let round = 0; ; round++) {
        const listening = await volume.start();
        const client = new VolumeClient(String(listening.grpc), {
          unaryDeadlineMs: 10_000,
          streamDeadlineMs: 20_000,
        });
        try {
          expect(await verify(client, ledger), `after restart #${round}; ${context()}`).toEqual([]);
          if (/interrupted compaction finished|unfinished compaction output deleted/.test(currentRunLog())) {
            interruptedCompactions++;
          }
          // Plain rounds first; then compaction rounds until one was cut off mid-way (bounded).
          const plainRoundsDone = round >= crashBounds.rounds;
          const compactionDone =
            interruptedCompactions > 0 || compactionRounds >= crashBounds.compactionRoundsMax;
          if (plainRoundsDone && compactionDone) break;
          const withCompaction = plainRoundsDone || (HEAVY && round % 4 === 3);
          if (withCompaction) compactionRounds++;
          const completed = await crashRound(client, ledger, random, withCompaction);
          if (withCompaction)
            process.stderr.write(`crash round ${round}: killed after ${completed} compactions\n`);
        } finally {
          client.close();
        }
      }
      process.stderr.write(
        `crash test seed=${SEED}: ${ledger.summary()}; ${interruptedCompactions} restarts found an interrupted compaction\n`,
      );
      expect(ledger.acknowledged, context()).toBeGreaterThanOrEqual(crashBounds.acknowledgedMin);
      expect(ledger.badVotes, context()).toEqual([]);
      if (interruptedCompactions === 0) {
        process.stderr.write(`crash test: no kill landed inside a compaction in ${compactionRounds} tries\n`);
      }
      // Finally a clean stop (index snapshot on close) and a restart from that snapshot.
      expect(await volume.stop(), `clean stop; ${context()}`).toEqual({ code: 0, signal: null });
      const listening = await volume.start();
      const client = new VolumeClient(String(listening.grpc));
      try {
        expect(await verify(client, ledger), `after a clean stop; ${context()}`).toEqual([]);
      } finally {
        client.close();
      }
      expect(await volume.stop(), `clean stop; ${context()}`).toEqual({ code: 0, signal: null });
    },
    crashBounds.testTimeoutMs,
  );
});
