import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** Metrics of the blob API: 2PC outcomes and phases, bytes through the coordinator, read fallbacks. */
export class BlobMetrics {
  readonly twoPhase: Counter<"outcome">;
  /** Seconds a committed write spent in each phase: `receive`, `prepare`, `commit` (blob-writer.ts). */
  readonly writePhase: Histogram<"phase">;
  readonly bytesIn: Counter;
  readonly bytesOut: Counter;
  /** A replica could not serve a read (down, missing, corrupt): the next one was tried. */
  readonly readFallbacks: Counter<"reason">;
  /** Keys queued for repair after a failed replica read. */
  readonly repairQueued: Counter;

  /**
   * `volumeStates` is read at scrape time: registered volumes by state (alive, down,
   * draining) and how many are full.
   */
  constructor(registry: Registry, volumeStates?: () => Promise<Readonly<Record<string, number>>>) {
    const registers = [registry];
    if (volumeStates !== undefined) {
      new Gauge({
        name: "minikv_volumes",
        help: "Registered volumes by state (alive, down, draining, full).",
        labelNames: ["state"],
        registers,
        async collect() {
          const counts = await volumeStates().catch(() => ({}));
          this.reset();
          for (const [state, count] of Object.entries(counts)) this.set({ state }, count);
        },
      });
    }
    this.twoPhase = new Counter({
      name: "minikv_2pc_total",
      help: "Blob writes by outcome: committed, aborted, unknown (Raft outcome not learned; presumed abort decides).",
      labelNames: ["outcome"],
      registers,
    });
    this.writePhase = new Histogram({
      name: "minikv_2pc_phase_seconds",
      help:
        "Committed blob writes: seconds spent receiving a small body whole (receive), streaming the body " +
        "to every replica until all voted (prepare; a streamed body's upload included), and at the " +
        "Raft commit point (commit).",
      labelNames: ["phase"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.bytesIn = new Counter({
      name: "minikv_blob_bytes_in_total",
      help: "Blob bytes received from clients and prepared on every replica.",
      registers,
    });
    this.bytesOut = new Counter({
      name: "minikv_blob_bytes_out_total",
      help: "Blob bytes sent to clients.",
      registers,
    });
    this.readFallbacks = new Counter({
      name: "minikv_read_fallbacks_total",
      help: "Reads that moved on to the next replica, by reason.",
      labelNames: ["reason"],
      registers,
    });
    this.repairQueued = new Counter({
      name: "minikv_repair_queued_total",
      help: "Keys queued for repair because a replica failed a read.",
      registers,
    });
  }
}
