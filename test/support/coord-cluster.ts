import type { Agent } from "node:http";
import { freePorts } from "../../common/free-ports.js";
import { httpJson, httpRequest } from "./http-client.js";
import type { ManagedProcess, ProcessHarness } from "./process-harness.js";
import { waitFor, type WaitResult } from "./wait.js";

/** The built coordinator binary every multi-process test and benchmark runs. */
export const COORD_SCRIPT = "dist/coordinator/main.js";

/** `GET /v1/cluster` as DESIGN.md §4 fixes it (the Raft parts the tests read). */
export interface ClusterJson {
  readonly self: {
    readonly id: string;
    readonly role: string;
    readonly term: number;
    readonly commitIndex: number;
    readonly appliedIndex: number;
  };
  readonly leader: string | null;
  readonly coordinators: readonly {
    readonly id: string;
    readonly role: string;
    readonly term: number;
    readonly commitIndex: number;
    readonly appliedIndex: number;
    readonly address: string;
  }[];
  readonly volumes: readonly unknown[];
  readonly shards: Readonly<Record<string, unknown>>;
  readonly replication: {
    readonly replicas: number;
    readonly raft: {
      readonly firstIndex: number;
      readonly lastIndex: number;
      readonly snapshotIndex: number;
      readonly snapshotsSent: number;
      readonly snapshotsReceived: number;
    };
  };
}

/** A proposal the coordinator answered with an error; `code` is its stable error code. */
export class ProposeError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(node: string, status: number, body: string) {
    super(`propose via ${node}: ${status} ${body}`);
    this.status = status;
    let code = "";
    try {
      code = (JSON.parse(body) as { error?: { code?: string } }).error?.code ?? "";
    } catch {
      // Not a JSON error body: the status says enough.
    }
    this.code = code;
  }
}

/** `GET /health` of a coordinator. */
export interface HealthJson {
  readonly status: string;
  readonly id: string;
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
  readonly grpcAddress: string;
}

export interface CoordClusterOptions {
  /** Number of coordinators (3 or 5). */
  readonly size: number;
  /** Extra flags for every node, e.g. ["--snapshot-threshold", "50"]. */
  readonly args?: readonly string[];
  /** Extra environment for every node. */
  readonly env?: Readonly<Record<string, string>>;
  /** Name prefix; nodes are `<prefix>1`, `<prefix>2`, … (default "coord-"). */
  readonly idPrefix?: string;
  /** Run every node at this nice value in its own session (benchmarks; see ProcessSpec.nice). */
  readonly nice?: number;
  /** Options for node itself (see ProcessSpec.nodeArgs). */
  readonly nodeArgs?: readonly string[];
}

/**
 * A Raft group of real `minikv-coord serve` processes on 127.0.0.1. gRPC ports are fixed
 * up front (peers must know them, and a restarted node keeps its address); HTTP ports are
 * 0 and learned from each run's listening line. Data dirs survive restarts.
 */
export class CoordCluster {
  readonly nodes: readonly ManagedProcess[];
  /** performance.now() when the last node of the first start reported listening. */
  readonly allListeningAtMs: number;

  private constructor(nodes: readonly ManagedProcess[], allListeningAtMs: number) {
    this.nodes = nodes;
    this.allListeningAtMs = allListeningAtMs;
  }

  /** Registers and starts every node in parallel; resolves once all reported listening. */
  static async start(harness: ProcessHarness, options: CoordClusterOptions): Promise<CoordCluster> {
    const prefix = options.idPrefix ?? "coord-";
    const ids = Array.from({ length: options.size }, (_, i) => `${prefix}${i + 1}`);
    const grpcPorts = await freePorts(options.size);
    const grpcOf = (i: number): string => `127.0.0.1:${grpcPorts[i]}`;
    const nodes: ManagedProcess[] = [];
    for (const [i, id] of ids.entries()) {
      const peers = ids.flatMap((peer, j) => (j === i ? [] : [`${peer}=${grpcOf(j)}`])).join(",");
      const db = await harness.dir(`${id}-data`);
      const args = ["serve", "--id", id, "--bind", "127.0.0.1:0", "--grpc", grpcOf(i), "--db", db];
      nodes.push(
        harness.add({
          name: id,
          script: COORD_SCRIPT,
          role: "coordinator",
          args: [...args, "--peers", peers, ...(options.args ?? [])],
          env: { MINIKV_LOG_LEVEL: "info", ...options.env },
          ...(options.nice === undefined ? {} : { nice: options.nice }),
          ...(options.nodeArgs === undefined ? {} : { nodeArgs: options.nodeArgs }),
        }),
      );
    }
    await Promise.all(nodes.map((node) => node.start()));
    return new CoordCluster(nodes, performance.now());
  }

  node(id: string): ManagedProcess {
    const node = this.nodes.find((n) => n.name === id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  get running(): ManagedProcess[] {
    return this.nodes.filter((n) => n.running);
  }

  /** `GET /v1/cluster` of one node. */
  clusterOf(node: ManagedProcess, timeoutMs = 1_000): Promise<ClusterJson> {
    return httpJson<ClusterJson>(`${node.httpUrl}/v1/cluster`, { timeoutMs });
  }

  /** `GET /health` of one node: cheap (no calls to peers), so polling loops use it. */
  healthOf(node: ManagedProcess, timeoutMs = 1_000): Promise<HealthJson> {
    return httpJson<HealthJson>(`${node.httpUrl}/health`, { timeoutMs });
  }

  /**
   * The leader as the running nodes see it: a running node that reports itself leader in
   * the highest term any running node knows, and that a majority of the group follows.
   * Undefined when there is none (yet).
   */
  async leader(): Promise<ManagedProcess | undefined> {
    const views = await Promise.all(this.running.map((n) => this.healthOf(n, 500).catch(() => undefined)));
    const known = views.filter((v): v is HealthJson => v !== undefined);
    const termMax = Math.max(0, ...known.map((v) => v.term));
    const leaderView = known.find((v) => v.role === "leader" && v.term === termMax);
    if (leaderView === undefined) return undefined;
    const followers = known.filter((v) => v.leader === leaderView.id && v.term === termMax).length;
    if (followers * 2 <= this.nodes.length) return undefined;
    return this.node(leaderView.id);
  }

  /** Waits until a leader is agreed on, optionally one other than `not`. */
  waitForLeader(timeoutMs: number, not?: ManagedProcess): Promise<WaitResult<ManagedProcess>> {
    return waitFor(
      "an agreed leader",
      async () => {
        const leader = await this.leader();
        return leader === undefined || leader === not ? undefined : leader;
      },
      { timeoutMs, intervalMs: 10 },
    );
  }

  /** Puts `value` under `key` through `node` (`POST /v1/internal/raft/propose`); resolves with the entry's index. */
  async propose(
    node: ManagedProcess,
    key: string,
    value: Uint8Array,
    options: { timeoutMs?: number; agent?: Agent } = {},
  ): Promise<number> {
    const answer = await httpRequest(
      `${node.httpUrl}/v1/internal/raft/propose?key=${encodeURIComponent(key)}`,
      {
        method: "POST",
        body: value,
        timeoutMs: options.timeoutMs ?? 5_000,
        ...(options.agent === undefined ? {} : { agent: options.agent }),
      },
    );
    if (answer.status !== 200) throw new ProposeError(node.name, answer.status, answer.body.toString());
    return (JSON.parse(answer.body.toString()) as { index: number }).index;
  }

  /** Linearizable read through `node`; undefined for a missing key. */
  async read(node: ManagedProcess, key: string, timeoutMs = 5_000): Promise<Buffer | undefined> {
    const answer = await httpRequest(`${node.httpUrl}/v1/internal/raft/read?key=${encodeURIComponent(key)}`, {
      timeoutMs,
    });
    if (answer.status === 404) return undefined;
    if (answer.status !== 200)
      throw new Error(`read via ${node.name}: ${answer.status} ${answer.body.toString()}`);
    return answer.body;
  }
}
