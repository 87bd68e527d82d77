/**
 * Bounds of the operator jobs (verify, repair, rebalance, compact). One object so a
 * coordinator or a test can override any of them; every loop and queue of the jobs is
 * bounded by one of these.
 */
export interface AdminJobConfig {
  /** Blobs (and volume entries) checked at once by a scan. */
  readonly scanConcurrency: number;
  /** Blobs per metadata page a job reads at a time. */
  readonly metadataPageBlobs: number;
  /** Problems (or planned moves) of each kind a report lists; the counts cover them all. */
  readonly reportSamplesMax: number;
  /**
   * A suspected problem is checked again no sooner than this after the volumes were listed:
   * a volume may commit an acknowledged write a moment after the metadata did (phase two is
   * asynchronous), and a concurrent write may have moved on.
   */
  readonly recheckDelayMs: number;
  /** Orphans younger than this are left alone by repair: they may be in-flight writes or moves. */
  readonly orphanGraceMs: number;
  /**
   * Prepared records younger than this are writes in flight, not orphans. Longer than the
   * volumes' presumed-abort timeout, so a prepared record this old is one nobody resolved.
   */
  readonly preparedInFlightMs: number;
  /** Blob copies (repair, rebalance) in flight at once. */
  readonly moveConcurrency: number;
  /** Attempts of one rebalance move when it fails for a transient reason (peer busy or restarting). */
  readonly moveAttempts: number;
  /** Pause before a move's next attempt, times the attempts made so far. */
  readonly moveRetryDelayMs: number;
  /** Byte-rate budget of rebalance copies (reads and writes go on meanwhile). */
  readonly rebalanceBytesPerSecond: number;
  /** Bytes the rebalance throttle lets through in one burst after a pause. */
  readonly throttleBurstBytes: number;
  /** Finished jobs remembered (oldest forgotten first). */
  readonly jobHistoryMax: number;
  /** Largest `replicas` a repair accepts. */
  readonly replicasMax: number;
}

export const adminJobDefaults: AdminJobConfig = {
  scanConcurrency: 16,
  metadataPageBlobs: 1000,
  reportSamplesMax: 100,
  recheckDelayMs: 1_000,
  orphanGraceMs: 10 * 60_000,
  preparedInFlightMs: 2 * 60_000,
  moveConcurrency: 16,
  moveAttempts: 3,
  moveRetryDelayMs: 500,
  rebalanceBytesPerSecond: 64 * 1024 * 1024,
  throttleBurstBytes: 4 * 1024 * 1024,
  jobHistoryMax: 64,
  replicasMax: 16,
};
