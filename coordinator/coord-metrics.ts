import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { createRegistry } from "../common/metrics.js";
import type { ClusterRole, NodeStatus } from "./coord-node.js";

/** Monotonic Raft figures a node counts; read at scrape time. */
export interface RaftCounters {
  /** Times the known leader changed (including to "none"). */
  readonly leaderChanges: number;
  /** Elections this node started (campaigns, pre-vote rounds included). */
  readonly elections: number;
  readonly proposals: number;
  readonly proposalsFailed: number;
  /** fsynced storage batches (each Ready that had to be durable). */
  readonly fsyncBatches: number;
  /** Log entries written by those batches. */
  readonly fsyncEntries: number;
  /** Seconds those batches took to write and fsync. */
  readonly fsyncSeconds: number;
  /** Those that took half an election timeout or more. */
  readonly slowFsyncs: number;
  /** Ticks half an election timeout or more after the one before (the process stalled). */
  readonly lateTicks: number;
  /** Heartbeats and their answers sent while a batch was on the disk. */
  readonly earlyMessages: number;
  readonly snapshotsSent: number;
  readonly snapshotsReceived: number;
  readonly snapshotsTaken: number;
}

/** Where the metrics read Raft state at scrape time. */
export interface RaftMetricsSource {
  status(): NodeStatus;
  counters(): RaftCounters;
}

interface HttpSeries {
  readonly requests: ReturnType<Counter<"method" | "route" | "status">["labels"]>;
  readonly duration: ReturnType<Histogram<"method" | "route" | "status">["labels"]>;
}

const ROLES: readonly ClusterRole[] = ["leader", "follower", "candidate", "learner"];

/**
 * The coordinator's Prometheus metrics: Raft state (read from the node at scrape time, so
 * the node keeps plain counters and knows nothing of prom-client) and HTTP request counts
 * and latencies by route and status.
 */
export class CoordinatorMetrics {
  readonly registry: Registry;
  private readonly httpRequests: Counter<"method" | "route" | "status">;
  private readonly httpDuration: Histogram<"method" | "route" | "status">;
  /** The two series of each (method, route, status) seen, bound once: no label hashing per request. */
  private readonly httpSeries = new Map<string, HttpSeries>();
  private source: RaftMetricsSource | undefined;

  constructor(id: string) {
    this.registry = createRegistry({ coordinator: id });
    const registers = [this.registry];
    this.httpRequests = new Counter({
      name: "minikv_http_requests_total",
      help: "HTTP requests answered, by route and status.",
      labelNames: ["method", "route", "status"],
      registers,
    });
    this.httpDuration = new Histogram({
      name: "minikv_http_request_duration_seconds",
      help: "HTTP request latency from arrival to the end of the answer, by route and status.",
      labelNames: ["method", "route", "status"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.registerRaftMetrics();
  }

  /** Connects the Raft node once it exists; before that, Raft metrics are absent. */
  attachRaft(source: RaftMetricsSource): void {
    this.source = source;
  }

  observeHttp(method: string, route: string, status: number, durationSeconds: number): void {
    const id = `${method} ${status} ${route}`;
    let series = this.httpSeries.get(id);
    if (series === undefined) {
      const labels = { method, route, status: String(status) };
      series = { requests: this.httpRequests.labels(labels), duration: this.httpDuration.labels(labels) };
      this.httpSeries.set(id, series);
    }
    series.requests.inc();
    series.duration.observe(durationSeconds);
  }

  private registerRaftMetrics(): void {
    const source = (): RaftMetricsSource | undefined => this.source;
    const registers = [this.registry];
    const statusGauge = (name: string, help: string, read: (s: NodeStatus) => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.reset();
          const s = source();
          if (s !== undefined) this.set(read(s.status()));
        },
      });
    };
    statusGauge("minikv_raft_term", "Current Raft term.", (s) => s.term);
    statusGauge("minikv_raft_commit_index", "Highest log index known committed.", (s) => s.commitIndex);
    statusGauge(
      "minikv_raft_applied_index",
      "Highest log index applied to the state machine.",
      (s) => s.appliedIndex,
    );
    statusGauge("minikv_raft_is_leader", "1 when this node is the leader.", (s) =>
      s.role === "leader" ? 1 : 0,
    );
    statusGauge("minikv_raft_has_leader", "1 when this node knows a leader.", (s) =>
      s.leader === null ? 0 : 1,
    );
    new Gauge({
      name: "minikv_raft_role",
      help: "1 for this node's current role.",
      labelNames: ["role"],
      registers,
      collect() {
        this.reset();
        const role = source()?.status().role;
        if (role !== undefined) for (const r of ROLES) this.set({ role: r }, r === role ? 1 : 0);
      },
    });
    this.registerRaftCounters();
  }

  private registerRaftCounters(): void {
    const source = (): RaftMetricsSource | undefined => this.source;
    const registers = [this.registry];
    const counter = (name: string, help: string, read: (c: RaftCounters) => number): void => {
      // Counters owned by the node: reset and re-add at scrape keeps them monotonic.
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          const s = source();
          if (s !== undefined) this.inc(read(s.counters()));
        },
      });
    };
    counter("minikv_raft_leader_changes_total", "Times the known leader changed.", (c) => c.leaderChanges);
    counter("minikv_raft_elections_total", "Elections started by this node.", (c) => c.elections);
    counter("minikv_raft_proposals_total", "Entries proposed through this node.", (c) => c.proposals);
    counter("minikv_raft_proposals_failed_total", "Proposals that failed.", (c) => c.proposalsFailed);
    counter("minikv_raft_fsync_batches_total", "fsynced Raft storage batches.", (c) => c.fsyncBatches);
    counter(
      "minikv_raft_fsync_entries_total",
      "Log entries written by fsynced batches.",
      (c) => c.fsyncEntries,
    );
    counter(
      "minikv_raft_fsync_seconds_total",
      "Seconds the fsynced batches took to write and fsync.",
      (c) => c.fsyncSeconds,
    );
    counter(
      "minikv_raft_slow_fsyncs_total",
      "fsynced batches that took half an election timeout or more (each is logged).",
      (c) => c.slowFsyncs,
    );
    counter(
      "minikv_raft_late_ticks_total",
      "Raft ticks that came half an election timeout or more after the one before: this process stalled that long (each is logged).",
      (c) => c.lateTicks,
    );
    counter(
      "minikv_raft_early_messages_total",
      "Heartbeats and their answers sent while a Raft batch was being fsynced.",
      (c) => c.earlyMessages,
    );
    counter("minikv_raft_snapshots_sent_total", "Snapshots sent to followers.", (c) => c.snapshotsSent);
    counter(
      "minikv_raft_snapshots_received_total",
      "Snapshots installed from the leader.",
      (c) => c.snapshotsReceived,
    );
    counter(
      "minikv_raft_snapshots_taken_total",
      "Local snapshots taken (log compactions).",
      (c) => c.snapshotsTaken,
    );
    new Gauge({
      name: "minikv_raft_entries_per_fsync",
      help: "Log entries per fsynced batch, averaged since start.",
      registers,
      collect() {
        this.reset();
        const c = source()?.counters();
        if (c !== undefined && c.fsyncBatches > 0) this.set(c.fsyncEntries / c.fsyncBatches);
      },
    });
  }
}
