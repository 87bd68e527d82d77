/**
 * rebalance [--dry-run] (issue 5 §2): after volumes were added, drained or lost, every blob
 * whose HRW placement differs from its replicas is moved: copy to the new targets, commit the
 * new replica list through Raft, then delete the copies no longer listed. Copies share a
 * byte-rate budget, so reads and writes go on meanwhile. A crash at any point leaves every
 * blob readable: the old copies are deleted only after the new list is committed, and a
 * copy nobody lists is an orphan that repair reclaims.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { ErrorCode, MinikvError, isMinikvError } from "../../common/errors.js";
import type { BlobMeta } from "../metadata-commands.js";
import type { AdminJobConfig } from "./admin-config.js";
import { copyBlob } from "./blob-copy.js";
import { ByteThrottle } from "./byte-throttle.js";
import type { ClusterAccess } from "./cluster-access.js";
import { blobCountEstimate } from "./cluster-scan.js";
import type { JobContext, JobReport } from "./job-registry.js";
import { inOrderOf, sameMembers } from "./replica-lists.js";
import { commitMove, undoCopies } from "./replica-move.js";
import { MetadataCursor } from "./scan-cursors.js";
import { TaskPool } from "./task-pool.js";
import { isTransient } from "./transient.js";

export interface RebalanceOptions {
  readonly dryRun: boolean;
  /** Byte-rate budget of the copies. */
  readonly bytesPerSecond: number;
}

/** One planned (or done) move of a blob. */
export interface PlannedMove {
  readonly key: string;
  readonly version: number;
  readonly size: number;
  readonly from: readonly string[];
  readonly to: readonly string[];
  readonly replicas: readonly string[];
}

interface RebalanceState {
  readonly access: ClusterAccess;
  readonly options: RebalanceOptions;
  readonly config: AdminJobConfig;
  readonly context: JobContext;
  readonly throttle: ByteThrottle;
  readonly alive: ReadonlySet<string>;
  readonly counts: {
    keys: number;
    moves: number;
    bytesToCopy: number;
    moved: number;
    bytesCopied: number;
    copies: number;
    dropped: number;
    dropFailed: number;
    changedDuringMove: number;
    failed: number;
    /** Attempts of a move repeated after a transient failure (see transient.ts). */
    retried: number;
    /** Targets that refused the copy (see copyToTargets). */
    refusedTargets: number;
    /** Copies placed on a volume further down the key's ranking because a target refused. */
    placedElsewhere: number;
  };
  readonly plan: PlannedMove[];
  readonly failures: { key: string; error: string }[];
}

export async function runRebalance(
  access: ClusterAccess,
  options: RebalanceOptions,
  config: AdminJobConfig,
  context: JobContext,
): Promise<JobReport> {
  const views = await access.volumes();
  const alive = new Set(views.filter((v) => v.alive).map((v) => v.record.id));
  const state: RebalanceState = {
    access,
    options,
    config,
    context,
    // A burst never exceeds one second of the budget: a low rate must mean a low rate.
    throttle: new ByteThrottle(
      options.bytesPerSecond,
      Math.min(config.throttleBurstBytes, options.bytesPerSecond),
    ),
    alive,
    counts: {
      keys: 0,
      moves: 0,
      bytesToCopy: 0,
      moved: 0,
      bytesCopied: 0,
      copies: 0,
      dropped: 0,
      dropFailed: 0,
      changedDuringMove: 0,
      failed: 0,
      retried: 0,
      refusedTargets: 0,
      placedElsewhere: 0,
    },
    plan: [],
    failures: [],
  };
  const total = await blobCountEstimate(access, [...alive]);
  const cursor = new MetadataCursor(access, config.metadataPageBlobs);
  const pool = new TaskPool(config.moveConcurrency);
  for (let blob = await cursor.peek(); blob !== undefined; blob = await cursor.peek()) {
    context.signal.throwIfAborted();
    await cursor.takeIf(blob.key);
    const current = blob;
    await pool.submit(async () => {
      await rebalanceBlob(state, current);
      state.counts.keys += 1;
      context.progress(state.counts.keys, total);
    });
  }
  await pool.drain();
  return {
    dryRun: options.dryRun,
    bytesPerSecond: options.bytesPerSecond,
    ...state.counts,
    // Moves that failed. Copies that could not be dropped (dropFailed: often on a volume that
    // is down, the reason to rebalance) are orphans a later repair reclaims, not failures.
    unresolved: state.counts.failed,
    plan: state.plan,
    failures: state.failures,
  };
}

async function rebalanceBlob(state: RebalanceState, blob: BlobMeta): Promise<void> {
  const move = await planMove(state, blob);
  if (move === null) return;
  state.counts.moves += 1;
  state.counts.bytesToCopy += blob.size * move.to.length;
  if (state.plan.length < state.config.reportSamplesMax) state.plan.push(move);
  if (state.options.dryRun) return;
  let current: { blob: BlobMeta; move: PlannedMove } | null = { blob, move };
  for (let attempt = 1; current !== null; attempt++) {
    try {
      if (attempt > 1) current = await replan(state, current.blob);
      if (current !== null) await executeMove(state, current.blob, current.move);
      return;
    } catch (err) {
      state.context.signal.throwIfAborted();
      if (!isMinikvError(err)) throw err;
      if (attempt < state.config.moveAttempts && isTransient(err)) {
        state.counts.retried += 1;
        await sleep(state.config.moveRetryDelayMs * attempt, undefined, { signal: state.context.signal });
        continue;
      }
      state.counts.failed += 1;
      if (state.failures.length < state.config.reportSamplesMax)
        state.failures.push({ key: blob.key, error: `${err.code}: ${err.message}` });
      return;
    }
  }
}

/**
 * The move again from the blob's metadata as it is now (an attempt that failed may have
 * committed): null when it no longer needs one — placed, deleted or rewritten meanwhile.
 */
async function replan(
  state: RebalanceState,
  before: BlobMeta,
): Promise<{ blob: BlobMeta; move: PlannedMove } | null> {
  const blob = await state.access.getBlob(before.key);
  if (blob === null || blob.version !== before.version) {
    state.counts.changedDuringMove += 1;
    return null;
  }
  const move = await planMove(state, blob);
  if (move === null) {
    state.counts.moved += 1;
    return null;
  }
  return { blob, move };
}

/**
 * The blob's new replica list: its placement, topped up with current replicas when fewer
 * volumes are eligible than the cluster's replica count (never fewer copies than before).
 * Null when the blob already sits where placement puts it.
 */
async function planMove(state: RebalanceState, blob: BlobMeta): Promise<PlannedMove | null> {
  const want = Math.max(state.access.replicas, 1);
  const replicas = [...(await state.access.placement(blob.key, want))];
  for (const id of blob.replicas) if (replicas.length < want && !replicas.includes(id)) replicas.push(id);
  if (sameMembers(replicas, blob.replicas)) return null;
  return {
    key: blob.key,
    version: blob.version,
    size: blob.size,
    from: blob.replicas.filter((id) => !replicas.includes(id)),
    to: replicas.filter((id) => !blob.replicas.includes(id)),
    replicas,
  };
}

async function executeMove(state: RebalanceState, blob: BlobMeta, move: PlannedMove): Promise<void> {
  const { access, context } = state;
  const sources = inOrderOf(
    blob.replicas.filter((id) => state.alive.has(id)),
    blob.replicas,
  );
  if (sources.length === 0) throw new MinikvError(ErrorCode.UNAVAILABLE, "no replica is on a live volume");
  const copied: string[] = [];
  const ranking = await state.access.placement(
    blob.key,
    move.replicas.length + blob.replicas.length + move.to.length,
  );
  let placed: string[];
  try {
    placed = await copyToTargets(state, blob, move, { sources, ranking, copied });
  } catch (err) {
    await undoCopies(access, blob, copied, context.signal).catch(() => undefined);
    throw err;
  }
  const replicas = finalReplicas(state, blob, move, { placed, ranking });
  if (sameMembers(replicas, blob.replicas)) {
    await undoCopies(access, blob, copied, context.signal);
    throw new MinikvError(
      ErrorCode.CONFLICT,
      `no eligible volume accepts version ${blob.version} of the blob`,
    );
  }
  state.counts.placedElsewhere += placed.filter((id) => !move.to.includes(id)).length;
  const from = blob.replicas.filter((id) => !replicas.includes(id));
  // A volume that is down keeps its copy; repair reclaims it as an orphan once it is back.
  const drop = from.filter((id) => state.alive.has(id));
  const outcome = await commitMove(access, blob, { replicas, copied, drop }, context.signal);
  if (!outcome.committed) {
    state.counts.changedDuringMove += 1;
    return;
  }
  state.counts.moved += 1;
  state.counts.dropped += outcome.dropped;
  state.counts.dropFailed += outcome.dropFailed + from.length - drop.length;
}

/**
 * Copies the blob to the move's targets. A target that refuses this version (it dropped a
 * copy of it before and still remembers the tombstone) is replaced by the next eligible
 * volume in the key's ranking, so a drain still empties its volume. Returns the volumes now
 * holding a copy, in the order they were filled.
 */
async function copyToTargets(
  state: RebalanceState,
  blob: BlobMeta,
  move: PlannedMove,
  targets: { sources: readonly string[]; ranking: readonly string[]; copied: string[] },
): Promise<string[]> {
  const { sources, ranking, copied } = targets;
  const spares = ranking.filter((id) => !move.replicas.includes(id) && !blob.replicas.includes(id));
  const placed: string[] = [];
  for (const target of [...move.to, ...spares]) {
    if (placed.length >= move.to.length) break;
    let outcome: "present" | "copied";
    try {
      outcome = await copyBlob(state.access, blob, sources, target, {
        throttle: state.throttle,
        signal: state.context.signal,
      });
    } catch (err) {
      if (isMinikvError(err, ErrorCode.CONFLICT)) {
        state.counts.refusedTargets += 1;
        continue;
      }
      throw err;
    }
    placed.push(target);
    state.counts.copies += 1;
    if (outcome === "copied") {
      copied.push(target);
      state.counts.bytesCopied += blob.size;
    }
  }
  return placed;
}

/**
 * The planned list with refused targets replaced; when still short, topped up with old
 * replicas, eligible ones (in the ranking) first: a draining volume keeps a copy only when
 * nothing else can take it.
 */
function finalReplicas(
  state: RebalanceState,
  blob: BlobMeta,
  move: PlannedMove,
  filled: { placed: readonly string[]; ranking: readonly string[] },
): string[] {
  const kept = move.replicas.filter((id) => blob.replicas.includes(id));
  const replicas = inOrderOf([...kept, ...filled.placed], [...move.replicas, ...filled.placed]);
  const want = Math.max(state.access.replicas, 1);
  const old = [
    ...blob.replicas.filter((id) => filled.ranking.includes(id)),
    ...blob.replicas.filter((id) => !filled.ranking.includes(id)),
  ];
  for (const id of old) if (replicas.length < want && !replicas.includes(id)) replicas.push(id);
  return replicas;
}
