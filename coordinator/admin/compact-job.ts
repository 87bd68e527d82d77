/**
 * compact [--shard N] [--volume ID] (issue 5 §2): runs segment compaction now on the chosen
 * volumes (every live one, or one) and reports the space each freed. Volumes are compacted
 * one after another: compaction is disk-bound, and a volume compacting still serves reads.
 */
import { ErrorCode, MinikvError, toMinikvError } from "../../common/errors.js";
import type { ClusterAccess } from "./cluster-access.js";
import type { JobContext, JobReport } from "./job-registry.js";

export interface CompactOptions {
  readonly shard: number | undefined;
  readonly volume: string | undefined;
}

/** A compaction that has not finished after this is reported as failed (the volume goes on). */
const COMPACT_DEADLINE_MS = 60 * 60_000;

interface VolumeCompaction {
  readonly volume: string;
  readonly segmentsCompacted: number;
  readonly bytesFreed: number;
  readonly error: string | null;
}

export async function runCompact(
  access: ClusterAccess,
  options: CompactOptions,
  context: JobContext,
): Promise<JobReport> {
  const views = await access.volumes();
  const chosen = views.filter((v) => options.volume === undefined || v.record.id === options.volume);
  if (chosen.length === 0 && options.volume !== undefined)
    throw new MinikvError(ErrorCode.NOT_FOUND, `no volume "${options.volume}"`);
  const live = chosen.filter((v) => v.alive).map((v) => v.record.id);
  const skipped = chosen.filter((v) => !v.alive).map((v) => v.record.id);
  const results: VolumeCompaction[] = [];
  for (const volume of live) {
    context.signal.throwIfAborted();
    results.push(await compactOne(access, volume, options.shard, context.signal));
    context.progress(results.length, live.length);
  }
  const failed = results.filter((r) => r.error !== null);
  if (live.length > 0 && failed.length === live.length)
    throw new MinikvError(
      ErrorCode.UNAVAILABLE,
      `compaction failed on every volume: ${failed[0]?.error ?? ""}`,
    );
  return {
    shard: options.shard ?? null,
    bytesFreed: results.reduce((sum, r) => sum + r.bytesFreed, 0),
    segmentsCompacted: results.reduce((sum, r) => sum + r.segmentsCompacted, 0),
    failed: failed.length,
    volumes: results,
    skipped,
  };
}

async function compactOne(
  access: ClusterAccess,
  volume: string,
  shard: number | undefined,
  signal: AbortSignal,
): Promise<VolumeCompaction> {
  try {
    // The unary default (seconds) is far too short: compacting a large volume takes minutes.
    const result = await access
      .volumeClient(volume)
      .compact({ signal, deadlineMs: COMPACT_DEADLINE_MS, ...(shard === undefined ? {} : { shard }) });
    return { volume, ...result, error: null };
  } catch (err) {
    signal.throwIfAborted();
    const e = toMinikvError(err);
    return { volume, segmentsCompacted: 0, bytesFreed: 0, error: `${e.code}: ${e.message}` };
  }
}
