import type { Config, ConfState, Message, NodeId, Ready } from "../core/types.js";
import { bootstrapEntries } from "../driver-restore.js";
import { SafetyCheckers } from "./checkers.js";
import { History, type HistoryEntry, type Outcome } from "./history.js";
import type { KvInput, KvOutput } from "./kv-model.js";
import { createRng, type Rng } from "./rng.js";
import { SimNetwork, type InFlightMessage, type NetworkFaults } from "./sim-network.js";
import { emptyDisk, type DiskImage } from "./sim-storage.js";
import {
  SimNode,
  type ClientRequest,
  type CrashPoint,
  type NodeHost,
  type RawNodeFactory,
} from "./sim-node.js";
import { TraceRing, type TraceEvent } from "./trace.js";

/** Settings of one simulated cluster. The seed decides every random choice. */
export interface SimulatorOptions {
  readonly seed: number;
  /** Voters of the fresh cluster. */
  readonly nodeIds: readonly NodeId[];
  readonly core: Omit<Config, "id" | "seed">;
  readonly snapshotEveryEntries: number;
  readonly network: NetworkFaults;
  /** Scripted scenarios deliver messages by hand; random runs by time. */
  readonly manualNetwork: boolean;
  /**
   * Founding members write the real driver's bootstrap entries (each member added and
   * promoted, term 1, committed) and a joining node starts with an empty configuration,
   * learning membership from the log — as `minikv-coord` does. Without it, every node
   * starts from the founding configuration and an empty log (shorter scripted logs).
   */
  readonly bootstrap: boolean;
  /** A client gives up after this many ticks: the outcome is unknown. */
  readonly requestTimeoutTicks: number;
  readonly traceCapacity: number;
  /** Prints every trace line as it happens (TRACE=1). */
  readonly echo: ((line: string) => void) | null;
  readonly createRawNode: RawNodeFactory;
}

/** The disk of a founding member after the real driver's bootstrap (driver-restore.ts). */
function bootstrapDisk(members: readonly NodeId[]): DiskImage {
  const entries = bootstrapEntries(members);
  return { hardState: { term: 1, vote: null, commit: entries.length }, snapshot: null, entries };
}

/** Default core settings of the simulation (ticks are abstract time units). */
export const simCoreConfig: Omit<Config, "id" | "seed"> = {
  electionTicks: 10,
  heartbeatTicks: 2,
  preVote: true,
  checkQuorum: true,
  leaseRead: false,
  maxMsgBytes: 1024,
  maxInflightMsgs: 8,
  maxUncommittedBytes: 64 * 1024,
};

/**
 * A cluster of simulated coordinators on one virtual clock and one simulated network.
 * Everything random is drawn from the seed: the same seed replays the same trace.
 */
export class Simulator {
  readonly rng: Rng;
  readonly network: SimNetwork;
  readonly checkers = new SafetyCheckers();
  readonly history = new History();
  readonly trace: TraceRing;
  readonly initialConfState: ConfState;
  private readonly nodeMap = new Map<NodeId, SimNode>();
  private readonly finishListeners: ((op: HistoryEntry, outcome: Outcome) => void)[] = [];
  private readonly crashListeners: ((node: SimNode) => void)[] = [];
  private readonly missedTicks = new Map<NodeId, number>();
  /** Nodes removed by a committed conf change (ids are never reused, so for good). */
  readonly removedMembers = new Set<NodeId>();
  /** Result of every client command some state machine applied, by `clientId:seq`. */
  readonly appliedCommands = new Map<string, KvOutput>();
  private readonly pausedUntil = new Map<NodeId, number>();
  private readonly fastUntil = new Map<NodeId, number>();
  private clock = 0;
  private readonly host: NodeHost;
  readonly stats = {
    messagesSent: 0,
    messagesDelivered: 0,
    snapshotsSent: 0,
    crashes: 0,
    restarts: 0,
    /** Sent while the sender's batch was on a slow disk (RawNode.takeEarlyMessages). */
    earlyMessages: 0,
  };

  constructor(readonly options: SimulatorOptions) {
    this.rng = createRng(options.seed);
    this.network = new SimNetwork(this.rng.fork("network"), options.network, options.manualNetwork);
    this.trace = new TraceRing(options.traceCapacity, options.echo);
    this.initialConfState = { voters: [...options.nodeIds], learners: [] };
    this.host = this.createHost();
    for (const id of options.nodeIds) this.addNode(id, true).start();
  }

  private createHost(): NodeHost {
    return {
      now: () => this.clock,
      send: (from, message, payload) => this.send(from, message, payload),
      sentEarly: () => void this.stats.earlyMessages++,
      crashed: (node) => {
        this.stats.crashes++;
        this.missedTicks.delete(node.id);
        for (const listener of this.crashListeners) listener(node);
      },
      complete: (request, outcome) => this.attemptEnded(request, outcome),
      memberRemoved: (id) => this.removedMembers.add(id),
      commandApplied: (key, output) => {
        if (!this.appliedCommands.has(key)) this.appliedCommands.set(key, output);
      },
      trace: (event) => this.trace.add(event),
      checkers: this.checkers,
    };
  }

  get now(): number {
    return this.clock;
  }

  /** Creates a node (not started): a founding member, or one joining the running cluster. */
  addNode(id: NodeId, founding = false): SimNode {
    if (this.nodeMap.has(id)) throw new Error(`node ${id} exists`);
    const coreSeeds = this.rng.fork(`core:${id}`);
    const bootstrap = this.options.bootstrap;
    const disk = founding && bootstrap ? bootstrapDisk(this.options.nodeIds) : emptyDisk();
    const node = new SimNode(
      {
        id,
        config: this.options.core,
        initialConfState: founding || !bootstrap ? this.initialConfState : { voters: [], learners: [] },
        snapshotEveryEntries: this.options.snapshotEveryEntries,
        createRawNode: this.options.createRawNode,
        disk,
      },
      this.host,
      () => coreSeeds.u32(),
    );
    this.checkers.observeAppend(id, disk.entries, 0);
    this.nodeMap.set(id, node);
    return node;
  }

  node(id: NodeId): SimNode {
    const node = this.nodeMap.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  nodes(): SimNode[] {
    return [...this.nodeMap.values()];
  }

  liveNodes(): SimNode[] {
    return this.nodes().filter((node) => node.alive);
  }

  /** The live leader of the highest term, if any. */
  leader(): SimNode | null {
    let best: SimNode | null = null;
    let bestTerm = -1;
    for (const node of this.liveNodes()) {
      const status = node.raw?.status();
      if (status?.role === "leader" && status.term > bestTerm) {
        best = node;
        bestTerm = status.term;
      }
    }
    return best;
  }

  /** Called when a node has just crashed (it may be restarted from inside the listener). */
  onCrash(listener: (node: SimNode) => void): void {
    this.crashListeners.push(listener);
  }

  /** Called whenever a client operation ends for good (its outcome is in the history). */
  onFinish(listener: (op: HistoryEntry, outcome: Outcome) => void): void {
    this.finishListeners.push(listener);
  }

  /** Ends an operation for good: records its outcome in the history. */
  finish(op: HistoryEntry, outcome: Outcome): void {
    this.history.complete(op, outcome, this.clock);
    this.trace.add({
      tick: this.clock,
      node: `c${op.clientId}`,
      what: "done",
      detail: `#${op.id} ${outcome.kind}${outcome.kind === "ok" ? ` ${JSON.stringify(outcome.output)}` : ` (${outcome.reason})`}`,
    });
    for (const listener of this.finishListeners) listener(op, outcome);
  }

  private attemptEnded(request: ClientRequest, outcome: Outcome): void {
    if (outcome.kind !== "ok") {
      this.trace.add({
        tick: this.clock,
        node: `c${request.op.clientId}`,
        what: "attempt",
        detail: `#${request.op.id} ${outcome.kind} (${outcome.reason})`,
      });
    }
    request.onEnd(outcome);
  }

  private send(from: SimNode, message: Message, payload: Uint8Array | null): void {
    this.stats.messagesSent++;
    if (message.type === "snapshot") this.stats.snapshotsSent++;
    const outcome = this.network.send(message, payload, this.clock);
    this.trace.add({
      tick: this.clock,
      node: from.id,
      what: outcome === "queued" ? "send" : `send(${outcome})`,
      message,
    });
    if (outcome === "cut") from.defer((raw) => raw.reportUnreachable(message.to));
    if (message.type === "snapshot" && (outcome === "cut" || outcome === "lost")) {
      from.defer((raw) => raw.reportSnapshot(message.to, false));
    }
  }

  /** Hands one message to its destination (dropped if the link is cut or the node is down). */
  deliver(item: InFlightMessage): void {
    const { message } = item;
    const target = this.nodeMap.get(message.to);
    const cut = this.network.isCut(message.from, message.to);
    const delivered = !cut && target?.alive === true;
    if (delivered) {
      this.stats.messagesDelivered++;
      target.deliver(message, item.payload);
    } else {
      this.trace.add({ tick: this.clock, node: message.to, what: cut ? "drop(cut)" : "drop(down)", message });
    }
    this.reportSnapshotOutcome(item, delivered);
  }

  /** The transport tells the sender how streaming a snapshot ended, once per message. */
  private reportSnapshotOutcome(item: InFlightMessage, delivered: boolean): void {
    const { message } = item;
    if (message.type !== "snapshot" || !item.original) return;
    this.nodeMap.get(message.from)?.act((raw) => raw.reportSnapshot(message.to, delivered));
  }

  /** Advances the virtual clock by one tick: every live node ticks, due messages arrive. */
  /**
   * Advances the virtual clock by one tick: every live node ticks, due messages arrive.
   * Nodes in `skip` do not tick (scripts freeze a node's timers this way). Paused nodes
   * (see `pause`) get no ticks and no messages; when the pause ends they receive every
   * missed tick at once, before anything else, as a driver reading a monotonic clock does
   * after a stall — the leader-lease rule of the core relies on it.
   */
  tick(skip: ReadonlySet<NodeId> = new Set()): void {
    this.clock++;
    const paused = this.pausedNow();
    for (const node of this.rng.shuffled(this.liveNodes())) {
      if (paused.has(node.id)) {
        this.missedTicks.set(node.id, (this.missedTicks.get(node.id) ?? 0) + 1);
        continue;
      }
      const missed = this.missedTicks.get(node.id) ?? 0;
      this.missedTicks.delete(node.id);
      for (let i = 0; i < missed && node.alive; i++) node.tick();
      if (skip.has(node.id)) continue;
      node.tick();
      if (this.isFast(node.id)) node.tick();
    }
    if (!this.network.manual) {
      for (const item of this.network.takeDue(this.clock)) {
        if (paused.has(item.message.to)) this.network.postpone(item, this.clock + 1);
        else this.deliver(item);
      }
    }
    for (const node of this.nodes()) node.expireRequests(this.clock);
  }

  /** Freezes a node for `ticks` ticks, as a stopped process (SIGSTOP, a long GC pause). */
  pause(id: NodeId, ticks: number): void {
    this.pausedUntil.set(id, this.clock + ticks);
  }

  /**
   * Makes a node's clock run twice as fast for `ticks` ticks (clock drift). Only for runs
   * without leader leases, whose safety assumes equal clock rates.
   */
  speedUp(id: NodeId, ticks: number): void {
    this.fastUntil.set(id, this.clock + ticks);
  }

  private isFast(id: NodeId): boolean {
    return (this.fastUntil.get(id) ?? 0) > this.clock;
  }

  /** Frozen and fast clocks return to normal. */
  unpauseAll(): void {
    this.pausedUntil.clear();
    this.fastUntil.clear();
  }

  isPaused(id: NodeId): boolean {
    return (this.pausedUntil.get(id) ?? 0) > this.clock;
  }

  private pausedNow(): ReadonlySet<NodeId> {
    return new Set([...this.pausedUntil.keys()].filter((id) => this.isPaused(id)));
  }

  /** Manual network: delivers the queued messages matching `filter`; returns how many. */
  deliverWhere(filter: (message: Message) => boolean): number {
    const items = this.network.take((item) => filter(item.message));
    for (const item of items) this.deliver(item);
    return items.length;
  }

  dropWhere(filter: (message: Message) => boolean): number {
    const items = this.network.take((item) => filter(item.message));
    for (const item of items) {
      this.trace.add({ tick: this.clock, node: item.message.from, what: "dropped", message: item.message });
      this.reportSnapshotOutcome(item, false);
    }
    return items.length;
  }

  /** Manual network: delivers until no message is left (bounded). */
  stabilize(maxRounds = 1000): void {
    for (let round = 0; this.network.pending().length > 0; round++) {
      if (round >= maxRounds) throw new Error(`no quiescence after ${maxRounds} rounds`);
      this.deliverWhere(() => true);
    }
  }

  /** Records the call of a client operation (its attempts follow with `attempt`). */
  begin(clientId: number, seq: number, input: KvInput): HistoryEntry {
    return this.history.invoke(clientId, seq, input, this.clock);
  }

  /**
   * Sends one attempt of `op` to `nodeId`. Retries of one operation reuse its `seq`, so the
   * state machine applies it at most once (dissertation §6.3). `onEnd` hears how this
   * attempt ended; the operation itself ends only with `finish`.
   */
  attempt(
    op: HistoryEntry,
    seq: number,
    nodeId: NodeId,
    viaReadIndex: boolean,
    onEnd: (outcome: Outcome) => void,
  ): void {
    this.trace.add({
      tick: this.clock,
      node: `c${op.clientId}`,
      what: "invoke",
      detail: `#${op.id} ${JSON.stringify(op.input)} at ${nodeId}${viaReadIndex ? " (readIndex)" : ""}`,
    });
    const request: ClientRequest = {
      op,
      seq,
      deadlineTick: this.clock + this.options.requestTimeoutTicks,
      viaReadIndex,
      readIndex: null,
      onEnd,
    };
    const node = this.nodeMap.get(nodeId);
    // A frozen process does not accept the connection: the request never reaches it.
    const immediate =
      node === undefined || this.isPaused(nodeId)
        ? { kind: "fail" as const, reason: `${nodeId} unreachable` }
        : node.submit(request);
    if (immediate !== null) this.attemptEnded(request, immediate);
  }

  /** A client operation with a single attempt: it ends as that attempt ends. */
  invoke(clientId: number, seq: number, input: KvInput, nodeId: NodeId, viaReadIndex: boolean): HistoryEntry {
    const op = this.begin(clientId, seq, input);
    this.attempt(op, seq, nodeId, viaReadIndex, (outcome) => this.finish(op, outcome));
    return op;
  }

  crash(id: NodeId, survivingWrites = Number.POSITIVE_INFINITY): void {
    this.node(id).crash(survivingWrites);
  }

  armCrash(
    id: NodeId,
    point: CrashPoint,
    survivingWrites = Number.POSITIVE_INFINITY,
    when: ((ready: Ready) => boolean) | null = null,
  ): void {
    this.node(id).armCrash(point, survivingWrites, when);
  }

  restart(id: NodeId): void {
    this.stats.restarts++;
    this.node(id).start();
  }

  /** The trace tail and seed, for a failure message. */
  describeFailure(error: unknown, tailLines = 60): string {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return `seed=${this.options.seed} tick=${this.clock}\n${reason}\n--- last ${tailLines} trace events ---\n${this.trace.tail(tailLines)}`;
  }

  addTraceNote(node: string, what: string, detail?: string): void {
    const event: TraceEvent =
      detail === undefined ? { tick: this.clock, node, what } : { tick: this.clock, node, what, detail };
    this.trace.add(event);
  }
}
