/**
 * A cluster of RaftDrivers in one process, for tests: either over the in-memory twins
 * (MemoryNetwork, memory stores) or over the real things (gRPC on 127.0.0.1 ephemeral
 * ports, LevelDB and snapshot files in a temp dir). Nodes can be stopped and restarted over
 * the same disk and address, and new nodes added.
 */
import type * as grpc from "@grpc/grpc-js";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NodeId } from "./core/types.js";
import { freePorts } from "../../common/free-ports.js";
import { FileSnapshotStore } from "./file-snapshot-store.js";
import { GrpcTransport, startGrpcServer, stopGrpcServer } from "./grpc-transport.js";
import type { KvReader, KvResult } from "./kv-commands.js";
import { encodeKvCommand, kvCommandHandler } from "./kv-commands.js";
import { LevelRaftStore } from "./level-raft-store.js";
import { LevelStateMachine } from "./level-state-machine.js";
import { MemoryRaftDisk, MemoryRaftStore } from "./memory-raft-store.js";
import { MemorySnapshotDisk, MemorySnapshotStore } from "./memory-snapshot-store.js";
import { MemoryStateDisk, MemoryStateMachine } from "./memory-state-machine.js";
import { MemoryNetwork } from "./memory-transport.js";
import type { Applied, RaftDriverConfig } from "./raft-driver.js";
import { RaftDriver } from "./raft-driver.js";
import type { StateMachine } from "./state-machine.js";
import type { PeerAddresses } from "./storage.js";

export type KvDriver = RaftDriver<KvResult>;

interface MemoryDisks {
  readonly raft: MemoryRaftDisk;
  readonly snapshots: MemorySnapshotDisk;
  readonly state: MemoryStateDisk;
}

interface RunningNode {
  readonly driver: KvDriver;
  readonly reader: KvReader;
  readonly server: grpc.Server | null;
}

export type ClusterKind = "memory" | "grpc";

export type DriverOverrides = Partial<Omit<RaftDriverConfig, "id" | "bootstrapMembers" | "peers">>;

/** Fast timings for tests: 10 ms ticks, 100–200 ms election timeouts. */
export const testDriverConfig: DriverOverrides = { tickMs: 10, electionTicks: 10, heartbeatTicks: 2 };

export async function until(condition: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Hands leadership to voter `target` from whichever driver leads, up to `attempts` times.
 * The core abandons a transfer that does not complete within an election timeout
 * (dissertation §3.10), and each driver call waits two; on a loaded machine the target may
 * catch up or the votes arrive later than that. Callers still check that `target` leads.
 */
export async function transferWithRetries(
  drivers: () => readonly KvDriver[],
  target: NodeId,
  attempts = 5,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      const leader = drivers().find((d) => d.status().role === "leader");
      if (leader === undefined) throw new Error("no leader to transfer from");
      await leader.transferLeadership(target);
      return;
    } catch (err) {
      if (attempt >= attempts) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

export function putCommand(key: string, value: string): Uint8Array {
  return encodeKvCommand({ type: "put", key: Buffer.from(key), value: Buffer.from(value) });
}

export class TestCluster {
  private readonly network = new MemoryNetwork();
  private readonly disks = new Map<NodeId, MemoryDisks>();
  private readonly addresses = new Map<NodeId, string>();
  private readonly running = new Map<NodeId, RunningNode>();
  private readonly bootstrap = new Map<NodeId, readonly NodeId[]>();

  private constructor(
    readonly kind: ClusterKind,
    private readonly dir: string,
    private readonly overrides: DriverOverrides,
  ) {}

  /** Starts `ids` as a brand-new cluster. */
  static async start(
    kind: ClusterKind,
    ids: readonly NodeId[],
    overrides: DriverOverrides = {},
  ): Promise<TestCluster> {
    const dir = await mkdtemp(join(tmpdir(), "minikv-raft-driver-"));
    const cluster = new TestCluster(kind, dir, { ...testDriverConfig, ...overrides });
    for (const id of ids) cluster.bootstrap.set(id, ids);
    if (kind === "grpc") for (const id of ids) cluster.addresses.set(id, `127.0.0.1:${await freePort()}`);
    await Promise.all(ids.map((id) => cluster.startNode(id)));
    return cluster;
  }

  driver(id: NodeId): KvDriver {
    const node = this.running.get(id);
    if (node === undefined) throw new Error(`${id} is not running`);
    return node.driver;
  }

  async get(id: NodeId, key: string): Promise<string | undefined> {
    const value = await this.running.get(id)?.reader.get(Buffer.from(key));
    return value === undefined ? undefined : Buffer.from(value).toString();
  }

  put(id: NodeId, key: string, value: string): Promise<Applied<KvResult>> {
    return this.driver(id).propose(putCommand(key, value));
  }

  runningIds(): NodeId[] {
    return [...this.running.keys()];
  }

  addressOf(id: NodeId): string {
    return this.addresses.get(id) ?? `memory:${id}`;
  }

  /** The leader every running node agrees on (waits for one). */
  async leader(timeoutMs = 5000): Promise<NodeId> {
    let agreed: NodeId | null = null;
    await until(
      () => {
        const statuses = [...this.running.values()].map((n) => n.driver.status());
        const leaders = statuses.filter((s) => s.role === "leader");
        const candidate = leaders.length === 1 ? (leaders[0]?.id ?? null) : null;
        agreed = candidate !== null && statuses.every((s) => s.leader === candidate) ? candidate : null;
        return agreed !== null;
      },
      timeoutMs,
      "one agreed leader",
    );
    return agreed ?? "";
  }

  async followers(): Promise<NodeId[]> {
    const leader = await this.leader();
    return this.runningIds().filter((id) => id !== leader);
  }

  /** Starts (or restarts over its disk) node `id`. A new id joins with an empty configuration. */
  async startNode(id: NodeId): Promise<KvDriver> {
    if (this.kind === "grpc" && !this.addresses.has(id))
      this.addresses.set(id, `127.0.0.1:${await freePort()}`);
    const peers: PeerAddresses = Object.fromEntries(
      [...this.bootstrap.keys(), ...this.addresses.keys()].map((p) => [p, this.addressOf(p)]),
    );
    const config = { ...this.overrides, id, bootstrapMembers: this.bootstrap.get(id) ?? [], peers };
    const node = this.kind === "memory" ? this.memoryNode(id, config) : await this.grpcNode(id, config);
    this.running.set(id, node);
    await node.driver.start();
    return node.driver;
  }

  private memoryNode(id: NodeId, config: ConstructorParameters<typeof RaftDriver>[0]): RunningNode {
    const disks = this.disks.get(id) ?? {
      raft: new MemoryRaftDisk(),
      snapshots: new MemorySnapshotDisk(),
      state: new MemoryStateDisk(),
    };
    this.disks.set(id, disks);
    const stateMachine = new MemoryStateMachine(kvCommandHandler, disks.state);
    const driver = new RaftDriver<KvResult>(config, {
      storage: new MemoryRaftStore(disks.raft),
      snapshots: new MemorySnapshotStore(disks.snapshots),
      stateMachine,
      transport: this.network.transport(id),
    });
    return { driver, reader: stateMachine, server: null };
  }

  private async grpcNode(
    id: NodeId,
    config: ConstructorParameters<typeof RaftDriver>[0],
  ): Promise<RunningNode> {
    const address = this.addressOf(id);
    const transport = new GrpcTransport({ localId: id, localAddress: address });
    const { server } = await startGrpcServer(address, (s) => transport.addTo(s));
    const base = join(this.dir, id);
    const stateMachine: StateMachine<KvResult> & KvReader = await LevelStateMachine.open(
      join(base, "state"),
      kvCommandHandler,
    );
    const driver = new RaftDriver<KvResult>(config, {
      storage: await LevelRaftStore.open(join(base, "log")),
      snapshots: await FileSnapshotStore.open(join(base, "snapshots")),
      stateMachine,
      transport,
    });
    return { driver, reader: stateMachine, server };
  }

  /** Stops node `id` (its disk and address are kept for a restart). */
  async stopNode(id: NodeId): Promise<void> {
    const node = this.running.get(id);
    if (node === undefined) return;
    this.running.delete(id);
    await node.driver.stop();
    if (node.server !== null) await stopGrpcServer(node.server, 200);
  }

  isolate(id: NodeId): void {
    this.network.isolate(id);
  }

  heal(): void {
    this.network.heal();
  }

  async close(): Promise<void> {
    for (const id of this.runningIds()) await this.stopNode(id);
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** A free loopback port (bound and released), so a node keeps its address across restarts. */
async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error("no free port");
  return port;
}
