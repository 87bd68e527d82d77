import { randomInt } from "node:crypto";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { COORD_SCRIPT, type ClusterJson, type HealthJson } from "./coord-cluster.js";
import { FaultProxy, PASS, type LinkMode } from "./fault-proxy.js";
import { httpJson } from "./http-client.js";
import { freePorts } from "../../common/free-ports.js";
import { ProcessHarness, type ManagedProcess } from "./process-harness.js";
import { fillDisk, mountSmallDisk, unmountSmallDisk } from "./small-disk.js";
import { waitFor, type WaitResult } from "./wait.js";

/** The built volume binary. */
export const VOLUME_SCRIPT = "dist/volume/main.js";

/** How to lay out a cluster of real processes on 127.0.0.1. */
export interface ClusterOptions {
  /** Coordinators (default 3). */
  readonly coordinators?: number;
  /** Volumes (default 3). */
  readonly volumes?: number;
  /** `--replicas` of every coordinator (default 3). */
  readonly replicas?: number;
  /**
   * Put a FaultProxy on every internal path (see ClusterNetwork) so links can be cut,
   * slowed or reset. Off: processes talk to each other directly.
   */
  readonly faultProxies?: boolean;
  /** Extra flags for every coordinator, e.g. ["--election-timeout", "300ms"]. */
  readonly coordinatorArgs?: readonly string[];
  /** Extra flags for every volume. */
  readonly volumeArgs?: readonly string[];
  /** Extra environment for every process (default MINIKV_LOG_LEVEL=info). */
  readonly env?: Readonly<Record<string, string>>;
  /** Temp dir prefix under os.tmpdir() (default "minikv-cluster-"). */
  readonly tempPrefix?: string;
  /**
   * How long a start or restart may take to print its listening line (default 60 s: on a
   * loaded two-core machine a volume's restart after kill -9 has taken 20 s).
   */
  readonly readyTimeoutMs?: number;
}

const READY_TIMEOUT_MS_DEFAULT = 60_000;

/** One process of the cluster: its role and the fixed addresses it keeps across restarts. */
export interface ClusterNode {
  readonly name: string;
  readonly kind: "coordinator" | "volume";
  readonly process: ManagedProcess;
  /** "http://127.0.0.1:port": what clients of the test use; never proxied. */
  readonly httpUrl: string;
  readonly grpcPort: number;
  /** Data directories (db for a coordinator; data and wal for a volume). */
  readonly dirs: readonly string[];
  /** For a volume on a small disk of its own (addVolume diskBytes): the mount point. */
  readonly diskDir?: string;
}

/**
 * A named, controllable path between processes: one or more proxies switched together.
 *
 * Which traffic passes which link (with faultProxies on):
 * - `coord-i->coord-j`: everything coord-i sends to coord-j over gRPC (Raft messages,
 *   forwarded proposals and reads, peer status), because coord-i's `--peers` names coord-j
 *   at this proxy's address. coord-j's answers travel back on the same connection.
 * - `coords->vol-j`: every coordinator's gRPC and HTTP traffic to vol-j (2PC prepare/commit,
 *   reads), because vol-j advertises an alias loopback host (`--advertise 127.a.b.c`) on
 *   which the proxies listen with vol-j's own port numbers. One link for all coordinators:
 *   the advertised address is the same for all of them, so a partition between one
 *   coordinator and one volume alone cannot be expressed.
 * - `vols->coord-i`: every volume's gRPC traffic to coord-i (registration, heartbeats,
 *   transaction resolution), through coord-i's advertised alias host in the same way, plus
 *   HTTP to coord-i's advertised URL (the leader URL in error details, not used by volumes).
 * Not proxied: the tests' own HTTP clients (they use each node's real 127.0.0.1 URL), and a
 *   volume's discovery request `GET <coordinator>/health`, which goes to the real URL given
 *   in `--coordinators`; only the gRPC address it learns there is proxied.
 */
export interface ClusterLink {
  readonly name: string;
  readonly proxies: readonly FaultProxy[];
  readonly mode: LinkMode;
  set(mode: LinkMode): void;
}

class ProxyLink implements ClusterLink {
  readonly proxies: FaultProxy[] = [];

  constructor(readonly name: string) {}

  get mode(): LinkMode {
    return this.proxies[0]?.mode ?? PASS;
  }

  set(mode: LinkMode): void {
    for (const proxy of this.proxies) proxy.setMode(mode);
  }
}

/** The proxies of a cluster started with faultProxies, by link name. */
export class ClusterNetwork {
  private readonly links = new Map<string, ProxyLink>();
  /** 127.a.b.0/24 picked at random so that parallel clusters rarely share alias hosts. */
  private readonly aliasPrefix = `127.${randomInt(1, 255)}.${randomInt(1, 255)}.`;
  private aliasesUsed = 0;

  /** A fresh loopback alias host for one process (Linux routes all of 127/8 to lo). */
  nextAliasHost(): string {
    this.aliasesUsed++;
    if (this.aliasesUsed > 250) throw new Error("out of alias hosts");
    return `${this.aliasPrefix}${this.aliasesUsed}`;
  }

  /** Adds a proxy to the named link (created on first use). */
  async addProxy(
    linkName: string,
    targetPort: number,
    listen: { host: string; port: number } = { host: "127.0.0.1", port: 0 },
  ): Promise<FaultProxy> {
    let link = this.links.get(linkName);
    if (link === undefined) {
      link = new ProxyLink(linkName);
      this.links.set(linkName, link);
    }
    const proxy = await FaultProxy.start({
      name: linkName,
      targetHost: "127.0.0.1",
      targetPort,
      listenHost: listen.host,
      listenPort: listen.port,
    });
    proxy.setMode(link.mode);
    link.proxies.push(proxy);
    return proxy;
  }

  link(name: string): ClusterLink {
    const link = this.links.get(name);
    if (link === undefined) throw new Error(`no link ${name} (have: ${this.names().join(", ")})`);
    return link;
  }

  names(): string[] {
    return [...this.links.keys()];
  }

  /** Every link back to pass. */
  heal(): void {
    for (const link of this.links.values()) link.set(PASS);
  }

  async close(): Promise<void> {
    await Promise.all([...this.links.values()].flatMap((link) => link.proxies.map((p) => p.close())));
    this.links.clear();
  }
}

/** `GET /v1/cluster` volumes as the coordinator lists them. */
export interface ClusterVolumeJson {
  readonly id: string;
  readonly state: string;
  readonly url: string;
  readonly grpcAddress: string;
  readonly full: boolean;
}

const HEALTH_TIMEOUT_MS = 1_000;
const POLL_INTERVAL_MS = 50;

/**
 * A real minikv cluster: C `minikv-coord serve` and V `minikv-volume serve` processes on
 * 127.0.0.1, each with fixed ports (so a restart keeps its address) and its own data dirs and
 * log file in one temp dir. Processes are addressed by name ("coord-1", "vol-2").
 * close() stops exactly the processes it started (by PID), closes the proxies and removes
 * the temp dir; call it from afterAll/afterEach so it also runs when a test fails.
 */
export class Cluster {
  readonly harness: ProcessHarness;
  readonly network: ClusterNetwork | undefined;
  readonly options: ClusterOptions;
  private readonly nodes = new Map<string, ClusterNode>();
  private readonly paused = new Set<string>();
  private readonly mounts: string[] = [];
  private volumeCount = 0;

  private constructor(harness: ProcessHarness, options: ClusterOptions) {
    this.harness = harness;
    this.options = options;
    this.network = options.faultProxies === true ? new ClusterNetwork() : undefined;
  }

  /** Lays out and starts every process; on failure stops what started and rethrows. */
  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    const harness = await ProcessHarness.create(options.tempPrefix ?? "minikv-cluster-");
    const cluster = new Cluster(harness, options);
    try {
      await cluster.addCoordinators(options.coordinators ?? 3);
      await Promise.all(cluster.coordinators.map((c) => c.process.start()));
      for (let i = 0; i < (options.volumes ?? 3); i++) await cluster.addVolume({ start: false });
      await Promise.all(cluster.volumes.map((v) => v.process.start()));
    } catch (err) {
      await cluster.close();
      throw err;
    }
    return cluster;
  }

  get coordinators(): ClusterNode[] {
    return [...this.nodes.values()].filter((n) => n.kind === "coordinator");
  }

  get volumes(): ClusterNode[] {
    return [...this.nodes.values()].filter((n) => n.kind === "volume");
  }

  /** Real HTTP URLs of every coordinator (stable across restarts). */
  get coordinatorUrls(): string[] {
    return this.coordinators.map((c) => c.httpUrl);
  }

  node(name: string): ClusterNode {
    const node = this.nodes.get(name);
    if (node === undefined) throw new Error(`no process ${name}`);
    return node;
  }

  pidOf(name: string): number | undefined {
    return this.node(name).process.pid;
  }

  isRunning(name: string): boolean {
    return this.node(name).process.running;
  }

  isPaused(name: string): boolean {
    return this.paused.has(name);
  }

  /** A crash: SIGKILL, and wait for the exit. */
  async kill9(name: string): Promise<void> {
    this.paused.delete(name);
    await this.node(name).process.kill("SIGKILL");
  }

  /** A graceful stop: SIGTERM (after SIGCONT if paused), SIGKILL after 10 s. */
  async stop(name: string): Promise<void> {
    this.resume(name);
    await this.node(name).process.stop();
  }

  /** Starts `name` again with the same ports and data; a running process is killed -9 first. */
  async restart(name: string): Promise<void> {
    const node = this.node(name);
    if (node.process.running) await this.kill9(name);
    await node.process.restart();
  }

  /** SIGSTOP: the process freezes with its sockets open, as a long GC pause or a hung VM would. */
  pause(name: string): void {
    const pid = this.runningPid(name);
    process.kill(pid, "SIGSTOP");
    this.paused.add(name);
  }

  /** SIGCONT after pause(); a no-op for a process that is not paused. */
  resume(name: string): void {
    if (!this.paused.delete(name)) return;
    const pid = this.node(name).process.pid;
    if (pid !== undefined) process.kill(pid, "SIGCONT");
  }

  /**
   * Adds vol-<n+1> with fresh ports and dirs (and proxies); starts it unless told not to.
   * With `diskBytes`, its data and WAL live on a tmpfs of that size (see mountSmallDisk);
   * if mounting is not permitted the volume is not added and this rejects.
   */
  async addVolume(options: { start?: boolean; diskBytes?: number } = {}): Promise<ClusterNode> {
    const name = `vol-${++this.volumeCount}`;
    const [httpPort, grpcPort] = (await freePorts(2)) as [number, number];
    let diskDir: string | undefined;
    if (options.diskBytes !== undefined) {
      diskDir = await this.harness.dir(`${name}-disk`);
      if (!(await mountSmallDisk(diskDir, options.diskBytes))) {
        this.volumeCount--;
        throw new Error(`cannot mount a ${options.diskBytes}-byte tmpfs for ${name} (needs root)`);
      }
      this.mounts.push(diskDir);
    }
    const data = diskDir === undefined ? await this.harness.dir(`${name}-data`) : join(diskDir, "data");
    const wal = diskDir === undefined ? await this.harness.dir(`${name}-wal`) : join(diskDir, "wal");
    await mkdir(data, { recursive: true });
    await mkdir(wal, { recursive: true });
    const args = [
      "serve",
      "--id",
      name,
      "--bind",
      `127.0.0.1:${httpPort}`,
      "--grpc",
      `127.0.0.1:${grpcPort}`,
      "--data",
      data,
      "--wal",
      wal,
      "--coordinators",
      this.coordinatorUrls.join(","),
    ];
    if (this.network !== undefined) {
      const alias = this.network.nextAliasHost();
      await this.network.addProxy(`coords->${name}`, grpcPort, { host: alias, port: grpcPort });
      await this.network.addProxy(`coords->${name}`, httpPort, { host: alias, port: httpPort });
      args.push("--advertise", alias);
    }
    const process = this.harness.add({
      name,
      script: VOLUME_SCRIPT,
      role: "volume",
      args: [...args, ...(this.options.volumeArgs ?? [])],
      env: { MINIKV_LOG_LEVEL: "info", ...this.options.env },
      readyTimeoutMs: this.options.readyTimeoutMs ?? READY_TIMEOUT_MS_DEFAULT,
    });
    const node: ClusterNode = {
      name,
      kind: "volume",
      process,
      httpUrl: `http://127.0.0.1:${httpPort}`,
      grpcPort,
      dirs: [data, wal],
      ...(diskDir === undefined ? {} : { diskDir }),
    };
    this.nodes.set(name, node);
    if (options.start !== false) await process.start();
    return node;
  }

  /** A volume that lost its disk: killed -9, data and WAL removed, started again empty under the same id. */
  async wipeVolume(name: string): Promise<void> {
    const node = this.node(name);
    if (node.kind !== "volume") throw new Error(`${name} is not a volume`);
    if (node.process.running) await this.kill9(name);
    for (const dir of node.dirs) {
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
    }
    await node.process.restart();
  }

  /**
   * Fills the small disk of `name` (see addVolume diskBytes) with a ballast file until the
   * file system answers ENOSPC; resolves with the bytes written. The volume keeps running.
   */
  async fillDisk(name: string): Promise<number> {
    const diskDir = this.node(name).diskDir;
    if (diskDir === undefined) throw new Error(`${name} has no disk of its own`);
    return fillDisk(diskDir, "ballast");
  }

  /** Removes the ballast fillDisk() wrote. */
  async freeDisk(name: string): Promise<void> {
    const diskDir = this.node(name).diskDir;
    if (diskDir !== undefined) await rm(join(diskDir, "ballast"), { force: true });
  }

  /** `GET /health` of a coordinator through its real URL. */
  healthOf(name: string, timeoutMs = HEALTH_TIMEOUT_MS): Promise<HealthJson> {
    return httpJson<HealthJson>(`${this.node(name).httpUrl}/health`, { timeoutMs });
  }

  /** `GET /v1/cluster` of a coordinator. */
  clusterOf(name: string, timeoutMs = HEALTH_TIMEOUT_MS): Promise<ClusterJson> {
    return httpJson<ClusterJson>(`${this.node(name).httpUrl}/v1/cluster`, { timeoutMs });
  }

  /**
   * The leader the running, unpaused coordinators agree on: one that reports itself leader in
   * the highest term any of them knows and that a majority of all coordinators follows.
   */
  async leader(): Promise<ClusterNode | undefined> {
    const live = this.coordinators.filter((c) => c.process.running && !this.paused.has(c.name));
    const views = await Promise.all(live.map((c) => this.healthOf(c.name, 500).catch(() => undefined)));
    const known = views.filter((v): v is HealthJson => v !== undefined);
    const termMax = Math.max(0, ...known.map((v) => v.term));
    const leaderView = known.find((v) => v.role === "leader" && v.term === termMax);
    if (leaderView === undefined) return undefined;
    const followers = known.filter((v) => v.leader === leaderView.id && v.term === termMax).length;
    return followers * 2 > this.coordinators.length ? this.node(leaderView.id) : undefined;
  }

  /** Waits until a leader is agreed on, optionally one other than `not`. */
  waitForLeader(timeoutMs: number, not?: string): Promise<WaitResult<ClusterNode>> {
    return waitFor(
      "an agreed leader",
      async () => {
        const leader = await this.leader();
        return leader === undefined || leader.name === not ? undefined : leader;
      },
      { timeoutMs, intervalMs: POLL_INTERVAL_MS },
    );
  }

  /**
   * Waits until every running process answers `/health`, a leader is agreed on, and the
   * leader lists every running volume as alive.
   */
  waitHealthy(timeoutMs: number): Promise<WaitResult<ClusterNode>> {
    return waitFor(
      "a healthy cluster",
      async () => {
        const running = [...this.nodes.values()].filter((n) => n.process.running && !this.paused.has(n.name));
        await Promise.all(
          running.map((n) => httpJson(`${n.httpUrl}/health`, { timeoutMs: HEALTH_TIMEOUT_MS })),
        );
        const leader = await this.leader();
        if (leader === undefined) return undefined;
        const view = await this.clusterOf(leader.name);
        const volumes = view.volumes as readonly ClusterVolumeJson[];
        const alive = new Set(volumes.filter((v) => v.state === "alive").map((v) => v.id));
        const allAlive = running.every((n) => n.kind !== "volume" || alive.has(n.name));
        return allAlive ? leader : undefined;
      },
      { timeoutMs, intervalMs: POLL_INTERVAL_MS },
    );
  }

  /** Every process's log tail, for failure messages. */
  logTails(lines?: number): string {
    return this.harness.logTails(lines);
  }

  /**
   * Resumes paused processes, stops every process this cluster started (SIGTERM, SIGKILL
   * after `stopTimeoutMs`), closes the proxies and removes the temp dir. Never throws.
   */
  async close(stopTimeoutMs = 5_000): Promise<void> {
    for (const name of [...this.paused]) {
      try {
        this.resume(name);
      } catch {
        // Already gone: nothing to resume.
      }
    }
    const running = [...this.nodes.values()].filter((n) => n.process.running);
    await Promise.all(running.map((n) => n.process.stop(stopTimeoutMs).catch(() => undefined)));
    for (const dir of this.mounts.splice(0)) await unmountSmallDisk(dir);
    await this.harness.cleanup(stopTimeoutMs);
    await this.network?.close().catch(() => undefined);
  }

  private runningPid(name: string): number {
    const pid = this.node(name).process.pid;
    if (pid === undefined) throw new Error(`${name} is not running`);
    return pid;
  }

  private async addCoordinators(count: number): Promise<void> {
    const ports = await freePorts(count * 2);
    const httpPortOf = (i: number): number => ports[2 * i]!;
    const grpcPortOf = (i: number): number => ports[2 * i + 1]!;
    const names = Array.from({ length: count }, (_, i) => `coord-${i + 1}`);
    for (const [i, name] of names.entries()) {
      const peers: string[] = [];
      for (const [j, peer] of names.entries()) {
        if (j === i) continue;
        const proxy = await this.network?.addProxy(`${name}->${peer}`, grpcPortOf(j));
        peers.push(`${peer}=127.0.0.1:${proxy?.port ?? grpcPortOf(j)}`);
      }
      const db = await this.harness.dir(`${name}-data`);
      const args = [
        "serve",
        "--id",
        name,
        "--bind",
        `127.0.0.1:${httpPortOf(i)}`,
        "--grpc",
        `127.0.0.1:${grpcPortOf(i)}`,
        "--db",
        db,
        "--peers",
        peers.join(","),
        "--replicas",
        String(this.options.replicas ?? 3),
      ];
      if (this.network !== undefined) {
        const alias = this.network.nextAliasHost();
        const listen = (port: number): { host: string; port: number } => ({ host: alias, port });
        await this.network.addProxy(`vols->${name}`, grpcPortOf(i), listen(grpcPortOf(i)));
        await this.network.addProxy(`vols->${name}`, httpPortOf(i), listen(httpPortOf(i)));
        args.push("--advertise", alias);
      }
      const process = this.harness.add({
        name,
        script: COORD_SCRIPT,
        role: "coordinator",
        args: [...args, ...(this.options.coordinatorArgs ?? [])],
        env: { MINIKV_LOG_LEVEL: "info", ...this.options.env },
        readyTimeoutMs: this.options.readyTimeoutMs ?? READY_TIMEOUT_MS_DEFAULT,
      });
      this.nodes.set(name, {
        name,
        kind: "coordinator",
        process,
        httpUrl: `http://127.0.0.1:${httpPortOf(i)}`,
        grpcPort: grpcPortOf(i),
        dirs: [db],
      });
    }
  }
}
