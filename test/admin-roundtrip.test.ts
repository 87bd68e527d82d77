/**
 * The operator round trip of issue 5 §2 with real processes (3 minikv-coord, 3 then 5
 * minikv-volume, from dist/): write keys on 3 volumes; verify is clean; add 2 volumes and
 * rebalance; verify is clean and every key reads back byte-exact; drain the 2 volumes and
 * rebalance; clean again; wipe one volume's data and restart it; verify reports exactly the
 * missing copies; repair; clean again. A coordinator is killed -9 in the middle of a
 * rebalance and every key still reads back. Jobs are started and followed over HTTP as the CLI
 * does. 5,000 keys with HEAVY=1; fewer by default to keep the suite short.
 */
import { createHash, randomBytes } from "node:crypto";
import { Agent } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VolumeClient } from "../common/volume-client.js";
import type { JobView } from "../coordinator/admin/job-registry.js";
import { Cluster, type ClusterVolumeJson } from "./support/cluster.js";
import { httpJson, httpRequest } from "./support/http-client.js";
import { waitFor } from "./support/wait.js";
import { seededRandom } from "./volume-fixture.js";

const HEAVY = process.env["HEAVY"] === "1";
const KEY_COUNT = HEAVY ? 5_000 : 120;
const VALUE_BYTES_MAX = 8 * 1024;
const WRITE_CONCURRENCY = 8;
/** A loaded machine may miss a volume heartbeat: NOT_ENOUGH_VOLUMES for a moment. */
const WRITE_ATTEMPTS_MAX = 20;
const WRITE_RETRY_PAUSE_MS_MAX = 1_000;
const STARTUP_TIMEOUT_MS = 60_000;
const JOB_TIMEOUT_MS = HEAVY ? 600_000 : 120_000;
const TEST_TIMEOUT_MS = HEAVY ? 1_800_000 : 300_000;
const JOB_POLL_MS = 200;
/** The rebalance killed mid-way copies slowly, so the kill lands in the middle of it. */
const CRASH_REBALANCE_BYTES_PER_SECOND = 32 * 1024;
/** How long the killed rebalance may take to make its first copy. */
const CRASH_FIRST_COPY_WAIT_MS = 60_000;
/** Rebalances started before giving up on one that is killed mid-way (see crashDuringRebalance). */
const CRASH_REBALANCE_ATTEMPTS = 3;
/** Repair reclaims the orphans the crash left once they are this old. */
const ORPHAN_GRACE = "1s";

describe(`operator round trip with real processes, ${KEY_COUNT} keys (issue 5 §2)`, () => {
  let cluster: Cluster;
  const agent = new Agent({ keepAlive: true, maxSockets: WRITE_CONCURRENCY });
  const digests = new Map<string, string>();

  beforeAll(async () => {
    cluster = await Cluster.start({
      coordinators: 3,
      volumes: 3,
      coordinatorArgs: ["--orphan-grace", ORPHAN_GRACE],
      env: { MINIKV_LOG_LEVEL: "warn" },
    });
    await cluster.waitHealthy(STARTUP_TIMEOUT_MS);
  }, STARTUP_TIMEOUT_MS * 2);
  afterAll(async () => {
    agent.destroy();
    await cluster?.close();
  });

  const coordinator = (): string => cluster.coordinatorUrls[0] ?? "";

  async function put(key: string, value: Buffer): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const answer = await httpRequest(`${coordinator()}/v1/blobs/${encodeURIComponent(key)}`, {
        method: "PUT",
        body: value,
        agent,
        timeoutMs: 30_000,
      }).catch((err: Error) => err);
      if (!(answer instanceof Error) && answer.status === 201) return;
      if (attempt >= WRITE_ATTEMPTS_MAX) {
        const why = answer instanceof Error ? answer.message : `${answer.status} ${answer.body.toString()}`;
        throw new Error(`PUT ${key}: ${why}`);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(100 * attempt, WRITE_RETRY_PAUSE_MS_MAX)));
    }
  }

  async function writeAll(): Promise<void> {
    const random = seededRandom(5);
    const keys = Array.from({ length: KEY_COUNT }, (_, i) => `trip/${String(i).padStart(5, "0")}`);
    const sizes = keys.map(() => Math.floor(random() * VALUE_BYTES_MAX));
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < keys.length; i = next++) {
        const key = keys[i] ?? "";
        const value = randomBytes(sizes[i] ?? 0);
        await put(key, value);
        digests.set(key, sha256(value));
      }
    };
    await Promise.all(Array.from({ length: WRITE_CONCURRENCY }, worker));
  }

  /**
   * GET, retried (bounded) while the cluster has no leader or a connection breaks, as right
   * after a kill -9; any other answer (a 404 above all) is returned at once.
   */
  async function get(url: string): Promise<{ status: number; body: Buffer }> {
    for (let attempt = 1; ; attempt++) {
      const answer = await httpRequest(url, { agent, timeoutMs: 30_000 }).catch((err: Error) => err);
      const transient = answer instanceof Error || answer.status === 503;
      if (!transient || attempt >= WRITE_ATTEMPTS_MAX) {
        return answer instanceof Error ? { status: 0, body: Buffer.from(answer.message) } : answer;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(100 * attempt, WRITE_RETRY_PAUSE_MS_MAX)));
    }
  }

  /** Every key read back through the coordinators, compared by SHA-256 with what was written. */
  async function readBackAll(urls = cluster.coordinatorUrls): Promise<string[]> {
    const wrong: string[] = [];
    const keys = [...digests.keys()];
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < keys.length; i = next++) {
        const key = keys[i] ?? "";
        const answer = await get(`${urls[i % urls.length] ?? ""}/v1/blobs/${encodeURIComponent(key)}`);
        if (answer.status !== 200 || sha256(answer.body) !== digests.get(key))
          wrong.push(`${key}: ${answer.status}`);
      }
    };
    await Promise.all(Array.from({ length: WRITE_CONCURRENCY }, worker));
    return wrong;
  }

  /** Starts a job as `minikv <type>` does and follows it until it ends. */
  async function job(type: string, options: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    await untilSeesVolumesAlive(coordinator());
    const started = await httpJson<{ job: JobView }>(`${coordinator()}/v1/admin/${type}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(options),
    });
    const { value } = await waitFor(
      `${type} job ${started.job.id}`,
      async () => {
        const { job: view } = await httpJson<{ job: JobView }>(
          `${coordinator()}/v1/admin/jobs/${encodeURIComponent(started.job.id)}`,
        );
        return view.state === "running" ? undefined : view;
      },
      { timeoutMs: JOB_TIMEOUT_MS, intervalMs: JOB_POLL_MS },
    );
    expect(value.error, `${type} failed`).toBeNull();
    expect(value.state).toBe("succeeded");
    return value.report ?? {};
  }

  /**
   * Waits until the coordinator at `url` sees every running volume alive (those being drained
   * aside: their state hides it). A job plans with its coordinator's view, and waitHealthy
   * asks only the leader: a follower takes liveness from the leader and keeps it up to a
   * second, and a newly elected leader first hears from the volumes again. A job planned on
   * a stale view leaves a copy on a volume it thinks down (rebalance's dropFailed) or moves
   * nothing to a volume it has not seen (docs/operator-jobs.md).
   */
  async function untilSeesVolumesAlive(url: string): Promise<void> {
    await waitFor(
      `${url} sees the running volumes alive`,
      async () => {
        const { volumes } = await httpJson<{ volumes: readonly ClusterVolumeJson[] }>(`${url}/v1/cluster`);
        const running = cluster.volumes.filter((v) => cluster.isRunning(v.name)).map((v) => v.name);
        const seen = running.every((name) =>
          volumes.some((v) => v.id === name && (v.state === "alive" || v.state === "draining")),
        );
        return seen ? true : undefined;
      },
      { timeoutMs: STARTUP_TIMEOUT_MS, intervalMs: JOB_POLL_MS },
    );
  }

  /** The committed keys a volume holds, listed over its gRPC service. */
  async function keysOn(name: string): Promise<string[]> {
    const client = new VolumeClient(`127.0.0.1:${cluster.node(name).grpcPort}`);
    try {
      const keys: string[] = [];
      for await (const batch of client.listKeys()) for (const entry of batch) keys.push(entry.key);
      return keys;
    } finally {
      client.close();
    }
  }

  /**
   * kill -9 of the coordinator running a slow rebalance, mid-way: afterwards every key still
   * reads back (copies are made before the replica list changes, old ones dropped after).
   */
  async function crashDuringRebalance(): Promise<void> {
    const runner = cluster.coordinators[1] ?? cluster.node("coord-2");
    let copies = 0;
    let view: JobView | undefined;
    // A job that plans on a view without the new volumes (liveness lost for a moment on a
    // starved machine) moves nothing and ends at once: it is started again, a bounded
    // number of times, each once its coordinator sees them alive again.
    for (let attempt = 1; attempt <= CRASH_REBALANCE_ATTEMPTS; attempt++) {
      await untilSeesVolumesAlive(runner.httpUrl);
      const started = await httpJson<{ job: JobView }>(`${runner.httpUrl}/v1/admin/rebalance`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ bytesPerSecond: CRASH_REBALANCE_BYTES_PER_SECOND }),
      });
      // Killed as soon as it has copied something: throttled, it is then mid-way (on a loaded
      // machine its scan can take seconds before the first copy).
      const deadline = Date.now() + CRASH_FIRST_COPY_WAIT_MS;
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, JOB_POLL_MS));
        copies = (await keysOn("vol-4")).length + (await keysOn("vol-5")).length;
        ({ job: view } = await httpJson<{ job: JobView }>(
          `${runner.httpUrl}/v1/admin/jobs/${encodeURIComponent(started.job.id)}`,
        ));
        if (copies > 0 || view.state !== "running" || Date.now() >= deadline) break;
      }
      if (copies > 0 || view.state === "running") break;
      const { volumes } = await httpJson<{ volumes: unknown }>(`${runner.httpUrl}/v1/cluster`);
      console.log(
        `rebalance ended before a copy, attempt ${attempt}: ${JSON.stringify(view)}; volumes now: ${JSON.stringify(volumes)}`,
      );
    }
    await cluster.kill9(runner.name);
    expect(copies, `the job had started copying when it was killed: ${JSON.stringify(view)}`).toBeGreaterThan(
      0,
    );
    const survivors = cluster.coordinators.filter((c) => c.name !== runner.name).map((c) => c.httpUrl);
    expect(await readBackAll(survivors)).toEqual([]);
    await cluster.restart(runner.name);
    await cluster.waitHealthy(STARTUP_TIMEOUT_MS);
  }

  async function expectClean(deep: boolean): Promise<Record<string, unknown>> {
    const report = await job("verify", { deep });
    expect({ problems: report["problems"], counts: report["counts"], keys: report["keys"] }).toEqual({
      problems: 0,
      counts: { missing: 0, stale: 0, corrupt: 0, unavailable: 0, orphans: 0 },
      keys: KEY_COUNT,
    });
    return report;
  }

  it(
    "write, verify, add 2 volumes and rebalance, drain them and rebalance, wipe a volume, verify, repair",
    async () => {
      try {
        await roundTrip();
      } catch (err) {
        console.error(cluster.logTails(20));
        throw err;
      }
    },
    TEST_TIMEOUT_MS,
  );

  async function roundTrip(): Promise<void> {
    const startedMs = performance.now();
    await writeAll();
    const wroteMs = performance.now();
    await expectClean(false);

    await cluster.addVolume();
    await cluster.addVolume();
    await cluster.waitHealthy(STARTUP_TIMEOUT_MS);
    await crashDuringRebalance();
    const spread = await job("rebalance");
    expect(spread).toMatchObject({ failed: 0, dropFailed: 0, changedDuringMove: 0 });
    expect(spread["moved"] as number).toBeGreaterThan(0);
    // Copies the killed job made but never listed (or listed without dropping the old ones).
    const afterCrash = await job("repair");
    expect(afterCrash).toMatchObject({ failed: 0, repaired: 0 });
    await expectClean(true);
    expect(await readBackAll()).toEqual([]);
    expect((await keysOn("vol-4")).length).toBeGreaterThan(0);

    for (const name of ["vol-4", "vol-5"]) {
      await httpJson(`${coordinator()}/v1/admin/volumes/${name}/drain`, { method: "POST" });
    }
    const drained = await job("rebalance");
    console.log(`drain rebalance: ${JSON.stringify({ ...drained, plan: undefined, failures: undefined })}`);
    const afterDrain = await expectClean(false);
    expect(await readBackAll()).toEqual([]);
    const left = new Set([...(await keysOn("vol-4")), ...(await keysOn("vol-5"))]);
    // Drained: every key left the draining volumes (a volume takes back a version it gave away).
    expect(drained["failed"]).toBe(0);
    expect(left.size).toBe(0);
    expect(afterDrain["misplacedCount"]).toBe(0);

    const onVol1 = await keysOn("vol-1");
    await cluster.wipeVolume("vol-1");
    // waitHealthy wants every volume "alive"; the drained ones now show "draining".
    await waitFor(
      "vol-1 alive again",
      async () => {
        const leader = await cluster.leader();
        if (leader === undefined) return undefined;
        const volumes = (await cluster.clusterOf(leader.name)).volumes as readonly ClusterVolumeJson[];
        return volumes.find((v) => v.id === "vol-1" && v.state === "alive");
      },
      { timeoutMs: STARTUP_TIMEOUT_MS, intervalMs: JOB_POLL_MS },
    );
    const wiped = await job("verify", { deep: false });
    expect(wiped["counts"]).toEqual({
      missing: onVol1.length,
      stale: 0,
      corrupt: 0,
      unavailable: 0,
      orphans: 0,
    });
    const sampled = (wiped["missing"] as { key: string; volume: string }[]).map((p) => p.volume);
    expect(new Set(sampled)).toEqual(new Set(["vol-1"]));
    const repaired = await job("repair");
    expect(repaired).toMatchObject({ failed: 0, unrecoverable: 0, repaired: onVol1.length });
    await expectClean(true);
    expect(await readBackAll()).toEqual([]);

    const seconds = (ms: number): string => (ms / 1000).toFixed(1);
    console.log(
      `round trip, ${KEY_COUNT} keys: writes ${seconds(wroteMs - startedMs)} s; ` +
        `rebalance onto 5 volumes moved ${String(spread["moved"])} keys; ` +
        `drain rebalance moved ${String(drained["moved"])}, ${left.size} keys stayed on the draining volumes; ` +
        `wipe: ${onVol1.length} missing copies repaired; total ${seconds(performance.now() - startedMs)} s`,
    );
  }
});

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
