/**
 * The operator jobs of issue 5 §2 against REAL volume servers (in-process, loopback) and an
 * in-memory ClusterAccess (test/admin-fixture.ts): verify finds missing, stale, corrupt and
 * orphaned copies; repair fixes each and verify is clean after; rebalance moves exactly the
 * keys whose placement changed and everything reads back byte-exact; dry runs change nothing;
 * a rebalance stopped at any point leaves every key readable.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode, MinikvError } from "../common/errors.js";
import { createLogger } from "../common/logger.js";
import { adminJobDefaults, type AdminJobConfig } from "../coordinator/admin/admin-config.js";
import { runCompact } from "../coordinator/admin/compact-job.js";
import { JobRegistry, type JobReport, type JobRun, type JobType } from "../coordinator/admin/job-registry.js";
import { runRebalance } from "../coordinator/admin/rebalance-job.js";
import { runRepair } from "../coordinator/admin/repair-job.js";
import { runVerify } from "../coordinator/admin/verify-job.js";
import { AdminTestCluster } from "./admin-fixture.js";
import { flipStoredByte, putValue, seededRandom, testValue } from "./volume-fixture.js";

/** Short recheck delay; orphans and stale prepared records are old at once. */
const config: AdminJobConfig = {
  ...adminJobDefaults,
  recheckDelayMs: 20,
  orphanGraceMs: 0,
  preparedInFlightMs: 0,
};

let cluster: AdminTestCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

function newRegistry(): JobRegistry {
  return new JobRegistry({ coordinatorId: "coord-test", logger: createLogger("test"), historyMax: 16 });
}

/** Runs a job through a registry (as the router does) and returns its report; throws if it failed. */
async function run(type: JobType, job: JobRun): Promise<JobReport> {
  const jobs = newRegistry();
  const view = await jobs.settled(jobs.start(type, {}, job).id);
  if (view?.state !== "succeeded" || view.report === null)
    throw new Error(`${type} ${view?.state}: ${view?.error}`);
  return view.report;
}

const verify = (c: AdminTestCluster, deep: boolean, cfg = config): Promise<JobReport> =>
  run("verify", (ctx) => runVerify(c.access, { deep }, cfg, ctx));
const repair = (c: AdminTestCluster, dryRun: boolean, cfg = config): Promise<JobReport> =>
  run("repair", (ctx) => runRepair(c.access, { dryRun, replicas: undefined, deep: true }, cfg, ctx));
const rebalance = (c: AdminTestCluster, dryRun: boolean, cfg = config, bytesPerSecond = 1024 ** 3) =>
  run("rebalance", (ctx) => runRebalance(c.access, { dryRun, bytesPerSecond }, cfg, ctx));

/** From now on, every `method` call the jobs make on volume `volumeId` fails with `error`. */
function failEvery(c: AdminTestCluster, volumeId: string, method: string, error: Error): void {
  const volumeClient = c.access.volumeClient.bind(c.access);
  c.access.volumeClient = (id) => {
    const client = volumeClient(id);
    if (id !== volumeId) return client;
    return new Proxy(client, {
      get: (target, name, receiver) =>
        name === method ? () => Promise.reject(error) : (Reflect.get(target, name, receiver) as unknown),
    });
  };
}

async function writeKeys(
  c: AdminTestCluster,
  count: number,
  prefix: string,
  seed: number,
): Promise<string[]> {
  const random = seededRandom(seed);
  const keys: string[] = [];
  for (let i = 0; i < count; i++) {
    const key = `${prefix}/${String(i).padStart(4, "0")}`;
    await c.write(key, 1 + Math.floor(random() * 16 * 1024));
    keys.push(key);
  }
  return keys;
}

/** Keys, with their volume, in a verify report's sample list of one kind. */
function sampled(report: JobReport, kind: string): string[] {
  const list = report[kind] as { key: string; volume?: string; volumeId?: string; reason?: string }[];
  return list
    .map((p) => `${p.key}@${p.volume ?? p.volumeId ?? "?"}${p.reason === undefined ? "" : `:${p.reason}`}`)
    .sort();
}

describe("verify and repair (issue 5 §2: verify, repair)", () => {
  it("verify is clean on a healthy cluster, shallow and deep", async () => {
    cluster = await AdminTestCluster.start(4);
    await writeKeys(cluster, 40, "healthy", 1);
    for (const deep of [false, true]) {
      const report = await verify(cluster, deep);
      expect(report).toMatchObject({ problems: 0, keys: 40, replicasChecked: 120, deep });
      expect(report["counts"]).toEqual({ missing: 0, stale: 0, corrupt: 0, unavailable: 0, orphans: 0 });
    }
  });

  it("verify finds missing, stale, corrupt and orphaned copies; a dry run changes nothing; repair fixes all", async () => {
    const c = (cluster = await AdminTestCluster.start(4));
    await writeKeys(c, 20, "fine", 2);
    const p = (key: string) => c.access.placement(key, 3);

    // Missing: a replica never got the bytes; another's copy was deleted (a tombstone remains).
    const neverWritten = "missing/never-written";
    const skipped = (await p(neverWritten))[1] ?? "";
    await c.write(neverWritten, 5000, [skipped]);
    const tombstoned = await c.write("missing/tombstoned", 7000);
    const tombstonedOn = tombstoned.replicas[0] ?? "";
    await c.volume(tombstonedOn).client.delete(tombstoned.key, tombstoned.version);

    // Stale: one replica kept the previous version.
    const staleKey = "stale/old-version";
    await c.write(staleKey, 3000);
    const staleOn = (await p(staleKey))[2] ?? "";
    await c.write(staleKey, 3100, [staleOn]);

    // Corrupt: one byte flipped in one replica's segment file (visible to --deep only).
    const corrupt = await c.write("corrupt/flipped", 64 * 1024);
    const corruptOn = corrupt.replicas[1] ?? "";
    const corruptValue = c.values.get(corrupt.key)?.bytes ?? Buffer.alloc(0);
    expect(await flipStoredByte(c.volume(corruptOn).dir, corruptValue, 40_000)).toBeGreaterThan(0);

    // Orphans: a key with no metadata, a copy on a volume the blob does not list, a prepared
    // record nobody will decide.
    await putValue(c.volume("vol-1").client, "orphan/no-metadata", testValue(2000), c.access.nextVersion());
    const extra = await c.write("orphan/extra-copy", 2500);
    const notReplica = ["vol-1", "vol-2", "vol-3", "vol-4"].find((id) => !extra.replicas.includes(id)) ?? "";
    const extraValue = c.values.get(extra.key);
    if (extraValue === undefined) throw new Error("no value");
    await putValue(c.volume(notReplica).client, extra.key, extraValue, extra.version, "tx-extra");
    const pending = testValue(1500);
    await c.volume("vol-2").client.prepare(
      {
        txid: "tx-never-decided",
        key: "orphan/prepared",
        size: pending.bytes.length,
        crc32c: pending.crc32c,
      },
      [pending.bytes],
    );

    const shallow = await verify(c, false);
    expect(shallow["counts"]).toEqual({ missing: 2, stale: 1, corrupt: 0, unavailable: 0, orphans: 3 });
    expect(sampled(shallow, "missing")).toEqual(
      [`${neverWritten}@${skipped}`, `${tombstoned.key}@${tombstonedOn}`].sort(),
    );
    expect(sampled(shallow, "stale")).toEqual([`${staleKey}@${staleOn}`]);
    expect(sampled(shallow, "orphans")).toEqual(
      [
        `orphan/no-metadata@vol-1:no-metadata`,
        `${extra.key}@${notReplica}:not-a-replica`,
        `orphan/prepared@vol-2:prepared`,
      ].sort(),
    );
    const deep = await verify(c, true);
    expect(deep["counts"]).toEqual({ missing: 2, stale: 1, corrupt: 1, unavailable: 0, orphans: 3 });
    expect(deep["problems"]).toBe(7);
    expect(sampled(deep, "corrupt")).toEqual([`${corrupt.key}@${corruptOn}`]);

    // Dry run: the plan, and not one byte or replica list changed.
    const listingBefore = await c.listing();
    const metadataBefore = JSON.stringify([...c.access.blobs.entries()]);
    const plan = await repair(c, true);
    expect(plan).toMatchObject({ dryRun: true, blobsToRepair: 4, orphansToReclaim: 3, repaired: 0 });
    expect((plan["plan"] as { key: string }[]).map((x) => x.key).sort()).toEqual(
      [neverWritten, tombstoned.key, staleKey, corrupt.key].sort(),
    );
    expect(await c.listing()).toEqual(listingBefore);
    expect(JSON.stringify([...c.access.blobs.entries()])).toBe(metadataBefore);

    const done = await repair(c, false);
    expect(done).toMatchObject({
      repaired: 4,
      orphansReclaimed: 3,
      orphansFailed: 0,
      failed: 0,
      unrecoverable: 0,
      unresolved: 0,
    });
    const after = await verify(c, true);
    expect(after["problems"]).toBe(0);
    expect(after["keys"]).toBe(25);
    for (const key of c.access.blobs.keys()) {
      expect(c.access.blobs.get(key)?.replicas).toHaveLength(3);
      expect(await c.readBackEverywhere(key)).toBe(true);
    }
    expect(c.access.blobs.get(corrupt.key)?.replicas).not.toContain(corruptOn);
  });

  it("repair --replicas 4 adds a copy to every blob; unreachable volumes are reported, not trusted", async () => {
    const c = (cluster = await AdminTestCluster.start(5));
    const keys = await writeKeys(c, 12, "more", 3);
    const report = await run("repair", (ctx) =>
      runRepair(c.access, { dryRun: false, replicas: 4, deep: false }, config, ctx),
    );
    expect(report).toMatchObject({ replicas: 4, repaired: 12, copies: 12 });
    for (const key of keys) {
      expect(c.access.blobs.get(key)?.replicas).toHaveLength(4);
      expect(await c.readBackEverywhere(key)).toBe(true);
    }
    c.access.down.add("vol-5");
    const verified = await verify(c, false);
    const onVol5 = keys.filter((key) => c.access.blobs.get(key)?.replicas.includes("vol-5")).length;
    expect(onVol5).toBeGreaterThan(0);
    expect(verified["counts"]).toMatchObject({ unavailable: onVol5, missing: 0 });
    expect(verified["unreachableVolumes"]).toEqual(["vol-5"]);
  });

  it("counts what it could not fix as unresolved: a blob with no good copy, an orphan a volume will not delete", async () => {
    const c = (cluster = await AdminTestCluster.start(3));
    await writeKeys(c, 6, "fine", 4);
    const lost = await c.write("lost/every-copy-corrupt", 32 * 1024);
    const lostValue = c.values.get(lost.key)?.bytes ?? Buffer.alloc(0);
    for (const id of lost.replicas) {
      expect(await flipStoredByte(c.volume(id).dir, lostValue, 10_000)).toBeGreaterThan(0);
    }
    await putValue(c.volume("vol-1").client, "orphan/stuck", testValue(1000), c.access.nextVersion());
    // vol-1 refuses every delete, as a volume with a full disk does.
    failEvery(c, "vol-1", "delete", new MinikvError(ErrorCode.DISK_FULL, "no room for a tombstone"));

    const report = await repair(c, false);
    expect(report).toMatchObject({
      unrecoverable: 1,
      orphansToReclaim: 1,
      orphansReclaimed: 0,
      orphansFailed: 1,
      unresolved: 2,
    });
    const failures = (report["failures"] as { key: string; error: string }[]).map((f) => f.key).sort();
    expect(failures).toEqual([lost.key, "orphan/stuck"]);
  });
});

describe("rebalance (issue 5 §2: rebalance)", () => {
  it("after adding volumes moves exactly the keys whose placement changed; all read back byte-exact", async () => {
    const c = (cluster = await AdminTestCluster.start(3));
    const keys = await writeKeys(c, 60, "spread", 4);
    await c.addVolume("vol-4");
    await c.addVolume("vol-5");
    const expected: string[] = [];
    for (const key of keys) {
      const target = await c.access.placement(key, 3);
      const replicas = c.access.blobs.get(key)?.replicas ?? [];
      if (!(target.length === replicas.length && target.every((id) => replicas.includes(id))))
        expected.push(key);
    }
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(keys.length);

    const misplaced = await verify(c, false);
    expect(misplaced).toMatchObject({ problems: 0, misplacedCount: expected.length });
    const listingBefore = await c.listing();
    const plan = await rebalance(c, true);
    expect(plan).toMatchObject({ dryRun: true, moves: expected.length, moved: 0, bytesCopied: 0 });
    expect(await c.listing()).toEqual(listingBefore);

    const before = new Map(keys.map((key) => [key, c.access.blobs.get(key)?.replicas ?? []]));
    const report = await rebalance(c, false);
    expect(report).toMatchObject({
      moves: expected.length,
      moved: expected.length,
      failed: 0,
      dropFailed: 0,
    });
    const changed = keys.filter((key) => before.get(key) !== c.access.blobs.get(key)?.replicas);
    expect(changed.sort()).toEqual(expected.sort());
    for (const key of keys) {
      const replicas = c.access.blobs.get(key)?.replicas ?? [];
      expect([...replicas].sort()).toEqual([...(await c.access.placement(key, 3))].sort());
      expect(await c.readBackEverywhere(key)).toBe(true);
    }
    // Old copies are gone: no orphans, nothing missing; every blob is where placement puts it.
    expect(await verify(c, true)).toMatchObject({ problems: 0, misplacedCount: 0 });
    expect((await rebalance(c, false))["moves"]).toBe(0);

    // Drain one volume (with a fresh one added): rebalance empties it.
    await c.addVolume("vol-6");
    await c.access.drainVolume("vol-5");
    const drained = await rebalance(c, false);
    expect(drained).toMatchObject({ failed: 0, dropFailed: 0 });
    expect(drained["moved"]).toBeGreaterThan(0);
    // A volume that dropped a copy in the first rebalance keeps its tombstone at that version
    // and refuses it back; a volume further down the key's ranking takes the copy instead.
    expect(drained["placedElsewhere"]).toBeLessThanOrEqual(drained["refusedTargets"] as number);
    expect((await c.listing()).filter((line) => line.startsWith("vol-5 "))).toEqual([]);
    expect((await verify(c, false))["problems"]).toBe(0);
    const compacted = await run("compact", (ctx) =>
      runCompact(c.access, { shard: undefined, volume: undefined }, ctx),
    );
    expect(compacted["volumes"]).toHaveLength(6);
    expect(compacted["failed"]).toBe(0);
    expect(compacted["bytesFreed"] as number).toBeGreaterThan(0);
    for (const key of keys) expect(await c.readBackEverywhere(key)).toBe(true);
  });

  it("moves a target refuses to prepare fail and count as unresolved; the keys stay where they were", async () => {
    const c = (cluster = await AdminTestCluster.start(3));
    const keys = await writeKeys(c, 30, "stuck", 6);
    await c.addVolume("vol-4");
    // vol-4 fails every prepare, as a volume whose disk went bad does (not a transient error).
    failEvery(c, "vol-4", "prepare", new MinikvError(ErrorCode.INTERNAL, "input/output error"));
    const before = new Map(keys.map((key) => [key, c.access.blobs.get(key)?.replicas ?? []]));
    const report = await rebalance(c, false);
    expect(report["moves"]).toBeGreaterThan(0);
    expect(report).toMatchObject({ moved: 0, failed: report["moves"], unresolved: report["moves"] });
    for (const key of keys) {
      expect(c.access.blobs.get(key)?.replicas).toEqual(before.get(key));
      expect(await c.readBackEverywhere(key)).toBe(true);
    }
  });

  it("a rebalance stopped mid-way leaves every key readable; a second one and repair finish the job", async () => {
    const c = (cluster = await AdminTestCluster.start(3));
    const keys: string[] = [];
    for (let i = 0; i < 40; i++) {
      keys.push(`stop/${i}`);
      await c.write(`stop/${i}`, 32 * 1024);
    }
    await c.addVolume("vol-4");
    await c.addVolume("vol-5");
    const slow = { ...config, throttleBurstBytes: 32 * 1024 };
    const jobs = newRegistry();
    const job = jobs.start("rebalance", {}, (ctx) =>
      runRebalance(c.access, { dryRun: false, bytesPerSecond: 512 * 1024 }, slow, ctx),
    );
    await new Promise((resolve) => setTimeout(resolve, 700));
    // Stopping the job is the in-process stand-in for a crash at an arbitrary point.
    await jobs.close();
    const stopped = await jobs.settled(job.id);
    expect(stopped?.state).toBe("failed");
    for (const key of keys) expect(await c.readBackEverywhere(key)).toBe(true);
    const midway = await verify(c, true);
    expect(midway["counts"]).toMatchObject({ missing: 0, stale: 0, corrupt: 0, unavailable: 0 });
    const moved = keys.filter((key) => c.access.blobs.get(key)?.replicas.some((id) => id > "vol-3"));
    expect(moved.length).toBeGreaterThan(0);

    expect((await rebalance(c, false))["failed"]).toBe(0);
    expect((await repair(c, false))["failed"]).toBe(0);
    expect((await verify(c, true))["problems"]).toBe(0);
    for (const key of keys) expect(await c.readBackEverywhere(key)).toBe(true);
  });

  it("a key overwritten while it moves (CONFLICT from setReplicas) keeps its metadata; its new copy is deleted", async () => {
    const c = (cluster = await AdminTestCluster.start(3));
    const keys = await writeKeys(c, 16, "race", 6);
    await c.addVolume("vol-4");
    let victim: string | undefined;
    for (const key of keys) if ((await c.access.placement(key, 3)).includes("vol-4")) victim ??= key;
    if (victim === undefined) throw new Error("no key moves to vol-4");
    const before = c.access.blobs.get(victim);
    if (before === undefined) throw new Error("no victim blob");
    // A client's overwrite commits between the copy and setReplicas (same volumes, new version).
    c.access.onSetReplicas = (key) => {
      if (key !== victim || c.access.blobs.get(key)?.version !== before.version) return;
      c.access.blobs.set(key, { ...before, version: c.access.nextVersion() });
    };
    const report = await rebalance(c, false);
    expect(report).toMatchObject({ changedDuringMove: 1, failed: 0 });
    expect(report["moved"]).toBe((report["moves"] as number) - 1);
    expect(c.access.blobs.get(victim)?.replicas).toEqual(before.replicas);
    const onTarget = await c
      .volume("vol-4")
      .client.stat(victim)
      .catch((err: { code?: string }) => err.code);
    expect(onTarget).toBe("KEY_NOT_FOUND");
    for (const key of keys.filter((k) => k !== victim)) expect(await c.readBackEverywhere(key)).toBe(true);
  });

  it("copies stay within the byte-rate budget", async () => {
    const c = (cluster = await AdminTestCluster.start(3));
    for (let i = 0; i < 8; i++) await c.write(`rate/${i}`, 64 * 1024);
    await c.addVolume("vol-4");
    await c.addVolume("vol-5");
    const bytesPerSecond = 1024 * 1024;
    const throttled = { ...config, throttleBurstBytes: 64 * 1024 };
    const startedMs = performance.now();
    const report = await rebalance(c, false, throttled, bytesPerSecond);
    const elapsedMs = performance.now() - startedMs;
    const copied = report["bytesCopied"] as number;
    expect(copied).toBeGreaterThan(512 * 1024);
    // Lower bound only: the budget may not be exceeded; a slow machine is allowed to be slower.
    expect(elapsedMs).toBeGreaterThanOrEqual(
      ((copied - throttled.throttleBurstBytes) / bytesPerSecond) * 1000 - 50,
    );
  });
});
