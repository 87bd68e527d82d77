import { Counter, Gauge, type Registry } from "prom-client";
import type { StoreStats } from "./store-api.js";

/**
 * The volume server's own metrics (requests, bytes, 2PC outcomes, the
 * coordinator link and the resolver), registered on the process registry beside the
 * engine's own (fsyncs, group-commit batch sizes, corrupt reads, snapshots, compaction).
 */
export interface VolumeServerMetrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<"method" | "route" | "status">;
  readonly httpBytesSent: Counter;
  readonly grpcRequests: Counter<"method" | "code">;
  readonly grpcBytesReceived: Counter;
  readonly grpcBytesSent: Counter;
  readonly prepares: Counter<"result">;
  readonly commits: Counter<"result">;
  readonly aborts: Counter<"result">;
  readonly deletes: Counter<"result">;
  readonly registrations: Counter<"result">;
  readonly heartbeats: Counter<"result">;
  readonly resolved: Counter<"outcome">;
}

/** Creates the server metrics on `registry`; store gauges are sampled from `stats` at scrape time. */
export function createServerMetrics(registry: Registry, stats: () => StoreStats): VolumeServerMetrics {
  const registers = [registry];
  registerStoreGauges(registry, stats);
  return {
    registry,
    httpRequests: new Counter({
      name: "minikv_volume_http_requests_total",
      help: "HTTP requests answered, by method, route and status.",
      labelNames: ["method", "route", "status"] as const,
      registers,
    }),
    httpBytesSent: new Counter({
      name: "minikv_volume_http_sent_bytes_total",
      help: "Value bytes sent in HTTP responses.",
      registers,
    }),
    grpcRequests: new Counter({
      name: "minikv_volume_grpc_requests_total",
      help: "gRPC calls finished, by method and minikv code (OK on success).",
      labelNames: ["method", "code"] as const,
      registers,
    }),
    grpcBytesReceived: new Counter({
      name: "minikv_volume_grpc_received_bytes_total",
      help: "Value bytes received by Prepare.",
      registers,
    }),
    grpcBytesSent: new Counter({
      name: "minikv_volume_grpc_sent_bytes_total",
      help: "Value bytes sent by Read.",
      registers,
    }),
    prepares: outcomeCounter(
      registry,
      "minikv_volume_prepares_total",
      "Prepares (2PC phase one), by result.",
    ),
    commits: outcomeCounter(registry, "minikv_volume_commits_total", "Commits (2PC phase two), by result."),
    aborts: outcomeCounter(registry, "minikv_volume_aborts_total", "Aborts, by result."),
    deletes: outcomeCounter(registry, "minikv_volume_deletes_total", "Deletes (tombstones), by result."),
    registrations: outcomeCounter(
      registry,
      "minikv_volume_registrations_total",
      "Registration attempts with a coordinator, by result.",
    ),
    heartbeats: outcomeCounter(registry, "minikv_volume_heartbeats_total", "Heartbeats sent, by result."),
    resolved: new Counter({
      name: "minikv_volume_resolved_transactions_total",
      help: "Prepared records resolved by asking a coordinator (presumed abort), by outcome.",
      labelNames: ["outcome"] as const,
      registers,
    }),
  };
}

function outcomeCounter(registry: Registry, name: string, help: string): Counter<"result"> {
  return new Counter({ name, help, labelNames: ["result"] as const, registers: [registry] });
}

/** The engine registers keys, prepared, live and segment bytes itself; capacity is ours. */
function registerStoreGauges(registry: Registry, stats: () => StoreStats): void {
  new Gauge({
    name: "minikv_volume_capacity_bytes",
    help: "Usable capacity of the data file system (free bytes plus the segments' bytes).",
    registers: [registry],
    collect() {
      this.set(stats().capacityBytes);
    },
  });
}
