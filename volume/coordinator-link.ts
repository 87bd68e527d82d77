import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import { formatHostPort, parseHostPort } from "../common/config.js";
import { ErrorCode, MinikvError, toMinikvError } from "../common/errors.js";
import { fromGrpcError, grpcChannelOptions, loadProto } from "../common/grpc.js";
import type { Logger } from "../common/logger.js";
import type { ProtoGrpcType } from "../proto/generated/coordinator.js";
import type { VolumeControlClient } from "../proto/generated/minikv/coordinator/v1/VolumeControl.js";
import type { VolumeInfo } from "../proto/generated/minikv/coordinator/v1/VolumeInfo.js";
import type { VolumeServerMetrics } from "./server-metrics.js";

/** What the volume tells coordinators about itself, sampled at every registration and heartbeat. */
export interface VolumeSelfInfo {
  readonly volumeId: string;
  /** host:port others dial for the Volume gRPC service. */
  readonly grpcAddress: string;
  /** Base URL of the HTTP read endpoint. */
  readonly httpUrl: string;
  readonly capacityBytes: number;
  readonly usedBytes: number;
}

/** How a coordinator decided a transaction (proto ResolveTransactionReply). */
export type TransactionOutcome =
  | { readonly outcome: "COMMITTED"; readonly version: number }
  | { readonly outcome: "ABORTED" }
  | { readonly outcome: "UNKNOWN" };

export interface CoordinatorLinkConfig {
  /** First retry delay after a failed registration. */
  readonly retryInitialMs: number;
  /** Cap of the exponential backoff between registration rounds. */
  readonly retryMaxMs: number;
  /** Deadline of each discovery request and each gRPC call to a coordinator. */
  readonly requestTimeoutMs: number;
  /** Heartbeat interval when the coordinator names none. */
  readonly heartbeatIntervalMsDefault: number;
}

export const coordinatorLinkDefaults: CoordinatorLinkConfig = {
  retryInitialMs: 250,
  retryMaxMs: 10_000,
  requestTimeoutMs: 3_000,
  heartbeatIntervalMsDefault: 2_000,
};

/** Bounds on the heartbeat interval a coordinator may ask for. */
const heartbeatIntervalBounds = { minMs: 100, maxMs: 60_000 } as const;

export interface CoordinatorLinkOptions {
  /** The coordinators' HTTP base URLs (--coordinators). */
  readonly coordinatorUrls: readonly string[];
  readonly self: () => VolumeSelfInfo;
  readonly logger: Logger;
  readonly metrics: VolumeServerMetrics;
  readonly config?: Partial<CoordinatorLinkConfig>;
}

interface Session {
  readonly url: string;
  readonly grpcAddress: string;
  readonly coordinatorId: string;
  readonly heartbeatIntervalMs: number;
}

let coordinatorProto: ProtoGrpcType | undefined;

/**
 * The volume's link to the coordinators. It keeps registering, forever, until stop():
 * discover a coordinator's gRPC address from `GET <url>/health` ("grpcAddress"), call
 * VolumeControl.Register, then Heartbeat at the interval the coordinator asked for. Any
 * failure moves on to the next coordinator after a capped, jittered exponential backoff.
 * Nothing here throws out of the loop: a volume runs standalone while no coordinator is up.
 */
export class CoordinatorLink {
  private readonly config: CoordinatorLinkConfig;
  private readonly clients = new Map<string, VolumeControlClient>();
  private readonly stopping = new AbortController();
  private session: Session | undefined;
  private nextUrl = 0;
  private loop: Promise<void> | undefined;

  constructor(private readonly options: CoordinatorLinkOptions) {
    this.config = { ...coordinatorLinkDefaults, ...options.config };
  }

  /** Starts the registration loop (a no-op without coordinators). */
  start(): void {
    if (this.loop !== undefined || this.options.coordinatorUrls.length === 0) return;
    this.loop = this.run();
  }

  /** Stops the loop and closes every channel; pending calls fail. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
    this.session = undefined;
  }

  /** The coordinator this volume is registered with right now, if any. */
  get registeredWith(): { url: string; grpcAddress: string; coordinatorId: string } | undefined {
    return this.session;
  }

  /**
   * Asks the coordinators how `txid` (a prepared write of `key`) ended: the one registered with first, then the others.
   * Rejects UNAVAILABLE when none answers; the caller must then decide nothing.
   */
  async resolveTransaction(txid: string, key: string, volumeId: string): Promise<TransactionOutcome> {
    const urls = this.urlsFromCurrent();
    let lastError: unknown;
    for (const url of urls) {
      try {
        const address = this.session?.url === url ? this.session.grpcAddress : await this.discover(url);
        const reply = await this.callUnary<{ outcome: string; version: string }>(
          address,
          (client, md, opts, cb) =>
            client.ResolveTransaction({ txid, key, volume_id: volumeId }, md, opts, cb),
        );
        return outcomeOf(reply);
      } catch (err) {
        lastError = err;
      }
    }
    throw new MinikvError(ErrorCode.UNAVAILABLE, "no coordinator answered ResolveTransaction", {
      cause: lastError,
    });
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping.signal.aborted) {
      const url = this.options.coordinatorUrls[this.nextUrl % this.options.coordinatorUrls.length] ?? "";
      try {
        this.session = await this.register(url);
        failures = 0;
        await this.heartbeatUntilFailure(this.session);
      } catch (err) {
        this.noteFailure(url, err, failures);
      }
      this.session = undefined;
      if (this.stopping.signal.aborted) return;
      this.nextUrl += 1;
      failures += 1;
      await this.pause(this.backoffMs(failures));
    }
  }

  private async register(url: string): Promise<Session> {
    const grpcAddress = await this.discover(url);
    const reply = await this.callUnary<{ coordinator_id: string; heartbeat_interval_ms: number }>(
      grpcAddress,
      (client, md, opts, cb) => client.Register({ volume: this.volumeInfo() }, md, opts, cb),
    ).catch((err: unknown) => {
      this.options.metrics.registrations.inc({ result: toMinikvError(err).code });
      throw err;
    });
    this.options.metrics.registrations.inc({ result: "ok" });
    const asked = reply.heartbeat_interval_ms;
    const heartbeatIntervalMs =
      asked === 0
        ? this.config.heartbeatIntervalMsDefault
        : Math.min(heartbeatIntervalBounds.maxMs, Math.max(heartbeatIntervalBounds.minMs, asked));
    this.options.logger.info(
      { coordinator: url, grpcAddress, coordinatorId: reply.coordinator_id, heartbeatIntervalMs },
      "registered with a coordinator",
    );
    return { url, grpcAddress, coordinatorId: reply.coordinator_id, heartbeatIntervalMs };
  }

  private async heartbeatUntilFailure(session: Session): Promise<void> {
    for (;;) {
      await this.pause(session.heartbeatIntervalMs);
      if (this.stopping.signal.aborted) return;
      try {
        await this.callUnary(session.grpcAddress, (client, md, opts, cb) =>
          client.Heartbeat({ volume: this.volumeInfo() }, md, opts, cb),
        );
        this.options.metrics.heartbeats.inc({ result: "ok" });
      } catch (err) {
        this.options.metrics.heartbeats.inc({ result: toMinikvError(err).code });
        throw err;
      }
    }
  }

  /** GET <url>/health and read the coordinator's gRPC address from it. */
  private async discover(url: string): Promise<string> {
    const signal = AbortSignal.any([AbortSignal.timeout(this.config.requestTimeoutMs), this.stopping.signal]);
    let body: unknown;
    try {
      const response = await fetch(`${url}/health`, { signal });
      body = await response.json();
    } catch (cause) {
      throw new MinikvError(ErrorCode.UNAVAILABLE, `coordinator ${url} did not answer /health`, { cause });
    }
    const address = (body as { grpcAddress?: unknown } | null)?.grpcAddress;
    if (typeof address !== "string") {
      throw new MinikvError(ErrorCode.UNAVAILABLE, `coordinator ${url} /health names no grpcAddress`);
    }
    return formatHostPort(parseHostPort(address));
  }

  private callUnary<T>(
    address: string,
    start: (
      client: VolumeControlClient,
      metadata: grpc.Metadata,
      options: grpc.CallOptions,
      callback: grpc.requestCallback<T>,
    ) => grpc.ClientUnaryCall,
  ): Promise<T> {
    const client = this.clientFor(address);
    const stopping = this.stopping.signal;
    return new Promise<T>((resolve, reject) => {
      const deadline = Date.now() + this.config.requestTimeoutMs;
      // stop() cancels a call in flight: one to a paused coordinator would hold it until the deadline.
      const cancel = (): void => call.cancel();
      const call = start(client, new grpc.Metadata(), { deadline }, (err, value) => {
        stopping.removeEventListener("abort", cancel);
        if (err !== null || value === undefined) reject(fromGrpcError(err));
        else resolve(value);
      });
      if (stopping.aborted) call.cancel();
      else stopping.addEventListener("abort", cancel, { once: true });
    });
  }

  private clientFor(address: string): VolumeControlClient {
    let client = this.clients.get(address);
    if (client === undefined) {
      coordinatorProto ??= loadProto<ProtoGrpcType>("coordinator.proto");
      const { VolumeControl } = coordinatorProto.minikv.coordinator.v1;
      client = new VolumeControl(address, grpc.credentials.createInsecure(), grpcChannelOptions);
      this.clients.set(address, client);
    }
    return client;
  }

  private volumeInfo(): VolumeInfo {
    const self = this.options.self();
    return {
      volume_id: self.volumeId,
      grpc_address: self.grpcAddress,
      http_url: self.httpUrl,
      capacity_bytes: self.capacityBytes,
      used_bytes: self.usedBytes,
    };
  }

  private urlsFromCurrent(): string[] {
    const urls = this.options.coordinatorUrls;
    const first = this.session === undefined ? this.nextUrl : urls.indexOf(this.session.url);
    return urls.map((_, i) => urls[(first + i) % urls.length] ?? "");
  }

  /** Equal jitter: half the capped exponential delay, plus up to as much again at random. */
  private backoffMs(failures: number): number {
    const exponent = Math.min(failures - 1, 30);
    const capped = Math.min(this.config.retryMaxMs, this.config.retryInitialMs * 2 ** exponent);
    return capped / 2 + Math.random() * (capped / 2);
  }

  private async pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.stopping.signal }).catch(() => undefined);
  }

  /** Logs the first failure of a streak loudly and the rest quietly: a volume may wait long. */
  private noteFailure(url: string, err: unknown, failures: number): void {
    const e = toMinikvError(err);
    if (this.stopping.signal.aborted) return;
    const fields = { coordinator: url, code: e.code, reason: e.message, failures };
    if (failures === 0) this.options.logger.warn(fields, "coordinator link failed; retrying");
    else this.options.logger.debug(fields, "coordinator still unreachable");
  }
}

function outcomeOf(reply: { outcome: string; version: string }): TransactionOutcome {
  switch (reply.outcome) {
    case "COMMITTED": {
      const version = Number(reply.version);
      if (!Number.isSafeInteger(version) || version < 1) {
        throw new MinikvError(
          ErrorCode.INTERNAL,
          `coordinator answered COMMITTED with version ${reply.version}`,
        );
      }
      return { outcome: "COMMITTED", version };
    }
    case "ABORTED":
      return { outcome: "ABORTED" };
    default:
      return { outcome: "UNKNOWN" };
  }
}
