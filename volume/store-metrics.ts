import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** What the storage engine reports (Prometheus names are stable: dashboards match on them). */
export interface StoreMetrics {
  readonly corruptReads: Counter;
  readonly walFsyncs: Counter;
  readonly walRecords: Counter;
  readonly walBatchRecords: Histogram;
  readonly segmentFsyncs: Counter;
  /** Duration of each fsync the engine waits on, by file kind (`wal`, `segment`). */
  readonly fsyncSeconds: Histogram<"file">;
  readonly snapshots: Counter;
  readonly snapshotSeconds: Gauge;
  readonly compactions: Counter;
  readonly compactionBytesFreed: Counter;
  readonly compactionBytesCopied: Counter;
}

export interface StoreGauges {
  keys(): number;
  prepared(): number;
  liveBytes(): number;
  usedBytes(): number;
}

/** Creates the engine's metrics in `registry` (none registered globally when it is absent). */
export function createStoreMetrics(registry: Registry | undefined, gauges: StoreGauges): StoreMetrics {
  const registers = registry === undefined ? [] : [registry];
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  };
  gauge("minikv_volume_keys", "Committed keys served by this volume.", () => gauges.keys());
  gauge("minikv_volume_prepared_writes", "Prepared writes waiting for commit or abort.", () =>
    gauges.prepared(),
  );
  gauge("minikv_volume_live_bytes", "Bytes of segment records the index references.", () =>
    gauges.liveBytes(),
  );
  gauge("minikv_volume_segment_bytes", "Bytes of all segment files.", () => gauges.usedBytes());
  return {
    corruptReads: new Counter({
      name: "minikv_volume_corrupt_reads_total",
      help: "Reads that found a record failing its CRC32C (never served).",
      registers,
    }),
    walFsyncs: new Counter({ name: "minikv_volume_wal_fsyncs_total", help: "WAL fsyncs.", registers }),
    walRecords: new Counter({
      name: "minikv_volume_wal_records_total",
      help: "WAL records written.",
      registers,
    }),
    walBatchRecords: new Histogram({
      name: "minikv_volume_wal_batch_records",
      help: "Records covered by one WAL fsync (group commit).",
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
      registers,
    }),
    segmentFsyncs: new Counter({
      name: "minikv_volume_segment_fsyncs_total",
      help: "Segment fsyncs.",
      registers,
    }),
    fsyncSeconds: new Histogram({
      name: "minikv_volume_fsync_seconds",
      help: "Duration of WAL and segment fsyncs (group-committed: one per batch).",
      labelNames: ["file"],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers,
    }),
    snapshots: new Counter({
      name: "minikv_volume_index_snapshots_total",
      help: "Index snapshots written.",
      registers,
    }),
    snapshotSeconds: new Gauge({
      name: "minikv_volume_index_snapshot_seconds",
      help: "Duration of the last index snapshot.",
      registers,
    }),
    compactions: new Counter({
      name: "minikv_volume_compactions_total",
      help: "Compactions finished.",
      registers,
    }),
    compactionBytesFreed: new Counter({
      name: "minikv_volume_compaction_bytes_freed_total",
      help: "Disk bytes reclaimed by compaction.",
      registers,
    }),
    compactionBytesCopied: new Counter({
      name: "minikv_volume_compaction_bytes_copied_total",
      help: "Bytes of live records copied by compaction.",
      registers,
    }),
  };
}
