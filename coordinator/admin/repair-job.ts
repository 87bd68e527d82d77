/**
 * repair [--replicas N] [--dry-run] (issue 5 §2): for every blob with a missing, stale,
 * corrupt or unreachable copy, or fewer than N good copies, copy it from a good replica to
 * its HRW targets that lack it, commit the new replica list through Raft, then delete the bad
 * copies; and reclaim orphans older than the grace period. Copies are checksummed where they
 * lie first (deep scan) unless `deep` is false, so a corrupt copy is never used as a source
 * and never counted as good. A dry run reports the plan and changes nothing.
 */
import { ErrorCode, isMinikvError } from "../../common/errors.js";
import type { BlobMeta } from "../metadata-commands.js";
import type { AdminJobConfig } from "./admin-config.js";
import { copyBlob } from "./blob-copy.js";
import type { ClusterAccess } from "./cluster-access.js";
import { scanCluster, type BlobCheck, type OrphanEntry, type ReplicaCheck } from "./cluster-scan.js";
import type { JobContext, JobReport } from "./job-registry.js";
import { inOrderOf } from "./replica-lists.js";
import { commitMove, undoCopies } from "./replica-move.js";
import { ProblemLog } from "./verify-job.js";

export interface RepairOptions {
  readonly dryRun: boolean;
  /** Good copies wanted per blob; the cluster's replica count when undefined. */
  readonly replicas: number | undefined;
  /** Checksum every copy where it lies before trusting it (default true). */
  readonly deep: boolean;
}

/** A blob's repair: the copies to make and drop, and the replica list to commit. */
export interface RepairPlan {
  readonly key: string;
  readonly version: number;
  readonly good: readonly string[];
  readonly bad: readonly { readonly volume: string; readonly state: string }[];
  readonly copyTo: readonly string[];
  /** Further targets, in placement order, for when one of `copyTo` refuses the copy. */
  readonly spare: readonly string[];
  readonly drop: readonly string[];
  readonly replicas: readonly string[];
}

interface RepairState {
  readonly access: ClusterAccess;
  readonly options: RepairOptions;
  readonly config: AdminJobConfig;
  readonly context: JobContext;
  readonly now: () => number;
  readonly wanted: number;
  readonly found: ProblemLog;
  readonly counts: {
    blobsToRepair: number;
    copiesPlanned: number;
    bytesToCopy: number;
    repaired: number;
    copies: number;
    bytesCopied: number;
    dropped: number;
    dropFailed: number;
    underReplicated: number;
    unrecoverable: number;
    changedDuringRepair: number;
    failed: number;
    orphansToReclaim: number;
    orphansReclaimed: number;
    orphansFailed: number;
    orphansInGrace: number;
  };
  readonly plan: RepairPlan[];
  readonly failures: { key: string; error: string }[];
}

/** Copies in one of these states can be neither sources nor targets of this repair. */
const UNUSABLE: ReadonlySet<ReplicaCheck["state"]> = new Set(["corrupt", "unavailable"]);

export async function runRepair(
  access: ClusterAccess,
  options: RepairOptions,
  config: AdminJobConfig,
  context: JobContext,
  now: () => number = Date.now,
): Promise<JobReport> {
  const state = newState(access, options, config, context, now);
  const summary = await scanCluster(
    access,
    { deep: options.deep, config, signal: context.signal, progress: context.progress, now },
    {
      blob: (check) => repairBlob(state, check),
      orphan: (orphan) => reclaimOrphan(state, orphan),
    },
  );
  return {
    dryRun: options.dryRun,
    replicas: state.wanted,
    deep: options.deep,
    orphanGraceMs: config.orphanGraceMs,
    ...summary,
    found: state.found.counts,
    ...state.counts,
    unresolved: unresolvedOf(state.counts),
    plan: state.plan,
    failures: state.failures,
  };
}

/**
 * What the repair leaves broken: blobs with no good copy, blobs it failed to repair or left
 * under the replica count, copies it could not drop and orphans it could not reclaim.
 * `minikv repair` exits 1 when this is not 0 (a dry run counts what it could not plan).
 */
function unresolvedOf(counts: RepairState["counts"]): number {
  return (
    counts.unrecoverable + counts.failed + counts.underReplicated + counts.dropFailed + counts.orphansFailed
  );
}

function newState(
  access: ClusterAccess,
  options: RepairOptions,
  config: AdminJobConfig,
  context: JobContext,
  now: () => number,
): RepairState {
  return {
    access,
    options,
    config,
    context,
    now,
    wanted: options.replicas ?? access.replicas,
    found: new ProblemLog(config.reportSamplesMax, now),
    counts: {
      blobsToRepair: 0,
      copiesPlanned: 0,
      bytesToCopy: 0,
      repaired: 0,
      copies: 0,
      bytesCopied: 0,
      dropped: 0,
      dropFailed: 0,
      underReplicated: 0,
      unrecoverable: 0,
      changedDuringRepair: 0,
      failed: 0,
      orphansToReclaim: 0,
      orphansReclaimed: 0,
      orphansFailed: 0,
      orphansInGrace: 0,
    },
    plan: [],
    failures: [],
  };
}

async function repairBlob(state: RepairState, check: BlobCheck): Promise<void> {
  for (const replica of check.replicas) state.found.replica(check.blob.key, check.blob.version, replica);
  const good = check.replicas.filter((r) => r.state === "ok").map((r) => r.volumeId);
  const bad = check.replicas.filter((r) => r.state !== "ok");
  if (bad.length === 0 && good.length >= state.wanted) return;
  state.counts.blobsToRepair += 1;
  if (good.length === 0) {
    state.counts.unrecoverable += 1;
    noteFailure(state, check.blob.key, "no good copy left to repair from");
    return;
  }
  try {
    const plan = await planRepair(state, check, good);
    if (state.plan.length < state.config.reportSamplesMax) state.plan.push(plan);
    state.counts.copiesPlanned += plan.copyTo.length;
    state.counts.bytesToCopy += plan.copyTo.length * check.blob.size;
    if (!state.options.dryRun) await executeRepair(state, check.blob, plan);
    else if (plan.replicas.length < state.wanted) state.counts.underReplicated += 1;
  } catch (err) {
    state.context.signal.throwIfAborted();
    if (!isMinikvError(err)) throw err;
    state.counts.failed += 1;
    noteFailure(state, check.blob.key, `${err.code}: ${err.message}`);
  }
}

/**
 * Good copies stay; targets come from the key's placement (then from a wider ranking when
 * some targets hold unusable copies) until `wanted` copies are planned. Bad copies on live
 * volumes that are not targets are dropped after the commit.
 */
async function planRepair(
  state: RepairState,
  check: BlobCheck,
  good: readonly string[],
): Promise<RepairPlan> {
  const { blob } = check;
  const unusable = new Set(check.replicas.filter((r) => UNUSABLE.has(r.state)).map((r) => r.volumeId));
  const placement = await state.access.placement(blob.key, state.wanted);
  // A wider ranking supplies spare targets: some targets may hold unusable copies, and a
  // target may refuse the version (a tombstone or a newer copy there).
  const wider = await state.access.placement(blob.key, state.wanted + check.replicas.length);
  const candidates = [...new Set([...placement, ...wider])];
  const usable = candidates.filter((id) => !good.includes(id) && !unusable.has(id));
  const copyTo = usable.slice(0, Math.max(0, state.wanted - good.length));
  const spare = usable.slice(copyTo.length);
  const replicas = inOrderOf([...good, ...copyTo], candidates);
  // Missing copies have nothing to drop (a delete would only leave a tombstone behind), and
  // unreachable volumes cannot be asked: they keep an orphan a later repair reclaims.
  const drop = check.replicas
    .filter((r) => (r.state === "corrupt" || r.state === "stale") && !copyTo.includes(r.volumeId))
    .map((r) => r.volumeId);
  return {
    key: blob.key,
    version: blob.version,
    good,
    bad: check.replicas.filter((r) => r.state !== "ok").map((r) => ({ volume: r.volumeId, state: r.state })),
    copyTo,
    spare,
    drop,
    replicas,
  };
}

async function executeRepair(state: RepairState, blob: BlobMeta, plan: RepairPlan): Promise<void> {
  const { access, context } = state;
  const copied: string[] = [];
  const placed: string[] = [];
  try {
    const needed = plan.copyTo.length;
    for (const target of [...plan.copyTo, ...plan.spare]) {
      if (placed.length >= needed) break;
      const outcome = await copyBlob(access, blob, plan.good, target, { signal: context.signal }).catch(
        (err: unknown) => {
          // This target refuses the version (a tombstone or newer copy); the others may not.
          if (isMinikvError(err, ErrorCode.CONFLICT)) return "refused" as const;
          throw err;
        },
      );
      if (outcome === "refused") continue;
      placed.push(target);
      state.counts.copies += 1;
      if (outcome === "copied") {
        copied.push(target);
        state.counts.bytesCopied += blob.size;
      }
    }
  } catch (err) {
    await undoCopies(access, blob, copied, context.signal).catch(() => undefined);
    throw err;
  }
  const replicas = inOrderOf([...plan.good, ...placed], [...plan.replicas, ...plan.spare]);
  if (replicas.length < state.wanted) state.counts.underReplicated += 1;
  const outcome = await commitMove(access, blob, { replicas, copied, drop: plan.drop }, context.signal);
  if (!outcome.committed) {
    state.counts.changedDuringRepair += 1;
    return;
  }
  state.counts.repaired += 1;
  state.counts.dropped += outcome.dropped;
  state.counts.dropFailed += outcome.dropFailed;
}

/** Deletes (committed) or aborts (prepared) an orphan older than the grace period. */
async function reclaimOrphan(state: RepairState, orphan: OrphanEntry): Promise<void> {
  state.found.orphan(orphan);
  if (state.now() - orphan.createdAtMs < state.config.orphanGraceMs) {
    state.counts.orphansInGrace += 1;
    return;
  }
  state.counts.orphansToReclaim += 1;
  if (state.options.dryRun) return;
  const { access, context } = state;
  const client = access.volumeClient(orphan.volumeId);
  try {
    if (orphan.prepared) {
      await client.abort(orphan.txid, { signal: context.signal });
    } else {
      // Last look: a move elsewhere may have just listed this copy.
      const fresh = await access.getBlob(orphan.key);
      if (fresh !== null && fresh.replicas.includes(orphan.volumeId)) return;
      await client.delete(orphan.key, orphan.version, { signal: context.signal });
    }
    state.counts.orphansReclaimed += 1;
  } catch (err) {
    context.signal.throwIfAborted();
    if (!isMinikvError(err)) throw err;
    state.counts.orphansFailed += 1;
    noteFailure(
      state,
      orphan.key,
      `reclaiming the orphan on ${orphan.volumeId}: ${err.code}: ${err.message}`,
    );
  }
}

function noteFailure(state: RepairState, key: string, error: string): void {
  if (state.failures.length < state.config.reportSamplesMax) state.failures.push({ key, error });
}
