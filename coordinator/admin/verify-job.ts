/**
 * verify [--deep] (issue 5 §2): every blob's recorded replicas hold it at its version; deep,
 * each volume also hashes its copy where it lies and the result is compared with the
 * metadata; and every record on a volume that no metadata points to is an orphan. Changes
 * nothing. The report counts problems by kind and lists the first of each; it also counts
 * the blobs not where placement puts them (`misplacedCount`, not a problem: rebalance's work).
 */
import type { AdminJobConfig } from "./admin-config.js";
import type { ClusterAccess } from "./cluster-access.js";
import { scanCluster, type OrphanEntry, type ReplicaCheck } from "./cluster-scan.js";
import type { JobContext, JobReport } from "./job-registry.js";
import { sameMembers } from "./replica-lists.js";

export interface VerifyOptions {
  readonly deep: boolean;
}

/** One problem copy in a verify report. */
export interface ReplicaProblem {
  readonly key: string;
  readonly volume: string;
  readonly version: number;
  readonly detail: string | null;
}

/** Counts every problem by kind; keeps the first `samplesMax` of each. */
export class ProblemLog {
  readonly counts = { missing: 0, stale: 0, corrupt: 0, unavailable: 0, orphans: 0 };
  readonly missing: ReplicaProblem[] = [];
  readonly stale: ReplicaProblem[] = [];
  readonly corrupt: ReplicaProblem[] = [];
  readonly unavailable: ReplicaProblem[] = [];
  readonly orphans: (OrphanEntry & { readonly ageMs: number })[] = [];

  constructor(
    private readonly samplesMax: number,
    private readonly now: () => number,
  ) {}

  replica(key: string, version: number, check: ReplicaCheck): void {
    if (check.state === "ok") return;
    this.counts[check.state] += 1;
    this.sample(this[check.state], { key, volume: check.volumeId, version, detail: check.detail });
  }

  orphan(orphan: OrphanEntry): void {
    this.counts.orphans += 1;
    this.sample(this.orphans, { ...orphan, ageMs: Math.max(0, this.now() - orphan.createdAtMs) });
  }

  get total(): number {
    return Object.values(this.counts).reduce((sum, n) => sum + n, 0);
  }

  private sample<T>(list: T[], item: T): void {
    if (list.length < this.samplesMax) list.push(item);
  }
}

export async function runVerify(
  access: ClusterAccess,
  options: VerifyOptions,
  config: AdminJobConfig,
  context: JobContext,
  now: () => number = Date.now,
): Promise<JobReport> {
  const log = new ProblemLog(config.reportSamplesMax, now);
  const misplaced: string[] = [];
  let misplacedCount = 0;
  const summary = await scanCluster(
    access,
    { deep: options.deep, config, signal: context.signal, progress: context.progress, now },
    {
      blob: async (check) => {
        for (const replica of check.replicas) log.replica(check.blob.key, check.blob.version, replica);
        // Not a problem (the copies are where the metadata says), but what rebalance would move.
        const placement = await access.placement(check.blob.key, access.replicas);
        if (!sameMembers(placement, check.blob.replicas)) {
          misplacedCount += 1;
          if (misplaced.length < config.reportSamplesMax) misplaced.push(check.blob.key);
        }
      },
      orphan: (orphan) => {
        log.orphan(orphan);
        return Promise.resolve();
      },
    },
  );
  return {
    problems: log.total,
    deep: options.deep,
    ...summary,
    counts: log.counts,
    missing: log.missing,
    stale: log.stale,
    corrupt: log.corrupt,
    unavailable: log.unavailable,
    orphans: log.orphans,
    misplacedCount,
    misplaced,
  };
}
