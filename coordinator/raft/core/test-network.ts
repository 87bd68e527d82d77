/**
 * A tiny deterministic network of RawNodes for the core's unit tests (cf. etcd's
 * `newNetwork`): Readys are handled exactly as types.ts prescribes (persist, send, apply,
 * advance) against in-memory storage that survives restart(), and messages are delivered
 * in FIFO order until the cluster is quiescent. Links can be cut and nodes isolated.
 *
 * Pure (no I/O, no timers, no randomness beyond the cores' seeded generators).
 */
import { encodeConfChange } from "./conf-change.js";
import { createRawNode } from "./raft-node.js";
import type {
  ConfChange,
  ConfState,
  Config,
  Entry,
  HardState,
  Message,
  MessageType,
  NodeId,
  RawNode,
  Ready,
  ReadState,
  SnapshotMeta,
} from "./types.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

export function text(data: Uint8Array): string {
  return decoder.decode(data);
}

/** What a node has fsynced, plus its state machine (the applied payloads). */
export interface TestStorage {
  hardState: HardState;
  snapshot: SnapshotMeta | null;
  entries: Entry[];
  /** Payloads of applied normal entries, in order: the state machine. */
  applied: string[];
  appliedIndex: number;
  /** Snapshot contents by index (the bytes a snapshot message carries). */
  snapshots: Map<number, string[]>;
  /** Contents that arrived with a snapshot message, waiting for Ready.snapshot. */
  staged: Map<number, string[]>;
}

export interface TestNode {
  readonly id: NodeId;
  config: Config;
  node: RawNode;
  readonly storage: TestStorage;
  readonly readStates: ReadState[];
  /** Every Ready this node produced, for persistence-contract checks. */
  readonly readies: Ready[];
  /** Membership the node starts from when its storage says nothing. */
  readonly initialConfState: ConfState;
}

export interface NetworkOptions {
  readonly voters: readonly NodeId[];
  readonly learners?: readonly NodeId[];
  /** Nodes to create that are not in the initial configuration (joining later). */
  readonly extra?: readonly NodeId[];
  readonly config?: Partial<Omit<Config, "id">>;
  readonly seed?: number;
  /**
   * Write the founding membership into every founding member's log as committed
   * conf-change entries at term 1 (as the driver does), so that a node joining later with
   * an empty configuration replays the membership from the log. Needed whenever `extra`
   * nodes join and may receive the log from index 1 rather than a snapshot.
   */
  readonly bootstrap?: boolean;
}

export const defaultTestConfig: Omit<Config, "id" | "seed"> = {
  electionTicks: 10,
  heartbeatTicks: 1,
  preVote: false,
  checkQuorum: false,
  leaseRead: false,
  maxMsgBytes: 1024 * 1024,
  maxInflightMsgs: 256,
  maxUncommittedBytes: 1 << 30,
};

const stepsMax = 100_000;

function emptyStorage(): TestStorage {
  return {
    hardState: { term: 0, vote: null, commit: 0 },
    snapshot: null,
    entries: [],
    applied: [],
    appliedIndex: 0,
    snapshots: new Map(),
    staged: new Map(),
  };
}

export class TestNetwork {
  readonly nodes = new Map<NodeId, TestNode>();
  /** Messages sent and not yet delivered, oldest first. */
  queue: Message[] = [];
  /** Every message that left a node (before filtering), in order. */
  readonly sent: Message[] = [];
  private readonly cutLinks = new Set<string>();
  private readonly isolated = new Set<NodeId>();
  private readonly droppedTypes = new Set<MessageType>();
  /** Extra drop rule for a test; true drops the message. */
  dropIf: ((m: Message) => boolean) | null = null;
  readonly initialConfState: ConfState;

  constructor(options: NetworkOptions) {
    this.initialConfState = { voters: [...options.voters], learners: [...(options.learners ?? [])] };
    const ids = [...options.voters, ...(options.learners ?? []), ...(options.extra ?? [])];
    const founding = [...options.voters, ...(options.learners ?? [])];
    ids.forEach((id, i) => {
      const config: Config = {
        ...defaultTestConfig,
        ...options.config,
        id,
        seed: (options.seed ?? 1) * 1000 + i,
      };
      const storage = emptyStorage();
      const initial = options.extra?.includes(id) ? { voters: [], learners: [] } : this.initialConfState;
      this.nodes.set(id, {
        id,
        config,
        initialConfState: initial,
        node: createRawNode(config, {
          hardState: storage.hardState,
          snapshot: null,
          entries: [],
          initialConfState: initial,
          applied: 0,
        }),
        storage,
        readStates: [],
        readies: [],
      });
      if (options.bootstrap === true && founding.includes(id)) this.bootstrap(id);
    });
  }

  private bootstrap(id: NodeId): void {
    const changes: ConfChange[] = [
      ...this.initialConfState.voters.flatMap((nodeId) => [
        { type: "addLearner" as const, nodeId, context: "" },
        { type: "promote" as const, nodeId, context: "" },
      ]),
      ...this.initialConfState.learners.map((nodeId) => ({
        type: "addLearner" as const,
        nodeId,
        context: "",
      })),
    ];
    const s = this.get(id).storage;
    s.entries = changes.map((change, i) => ({
      term: 1,
      index: i + 1,
      type: "confChange",
      data: encodeConfChange(change),
    }));
    s.hardState = { term: 1, vote: null, commit: changes.length };
    this.restart(id);
    this.process(id); // applies the bootstrap entries
  }

  get(id: NodeId): TestNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  raw(id: NodeId): RawNode {
    return this.get(id).node;
  }

  // ---- faults ----------------------------------------------------------------------------

  cut(a: NodeId, b: NodeId): void {
    this.cutLinks.add(`${a}>${b}`);
    this.cutLinks.add(`${b}>${a}`);
  }

  isolate(id: NodeId): void {
    this.isolated.add(id);
  }

  dropType(type: MessageType): void {
    this.droppedTypes.add(type);
  }

  heal(): void {
    this.cutLinks.clear();
    this.isolated.clear();
    this.droppedTypes.clear();
    this.dropIf = null;
  }

  private dropped(m: Message): boolean {
    return (
      this.cutLinks.has(`${m.from}>${m.to}`) ||
      this.isolated.has(m.from) ||
      this.isolated.has(m.to) ||
      this.droppedTypes.has(m.type) ||
      !this.nodes.has(m.to) ||
      (this.dropIf?.(m) ?? false)
    );
  }

  // ---- Ready handling --------------------------------------------------------------------

  /** Handles every pending Ready of `id` in the prescribed order. */
  process(id: NodeId): void {
    const n = this.get(id);
    while (n.node.hasReady()) {
      const ready = n.node.ready();
      n.readies.push(ready);
      this.persist(n, ready);
      for (const m of ready.messages) {
        this.sent.push(m);
        this.queue.push(m);
      }
      if (ready.snapshot !== null) this.restoreStateMachine(n, ready.snapshot);
      this.apply(n, ready.committedEntries);
      n.readStates.push(...ready.readStates);
      n.node.advance(ready);
    }
  }

  private persist(n: TestNode, ready: Ready): void {
    const s = n.storage;
    if (ready.snapshot !== null) {
      s.snapshot = ready.snapshot;
      s.entries = [];
    }
    const first = ready.entries[0];
    if (first !== undefined) {
      s.entries = s.entries.filter((e) => e.index < first.index);
      s.entries.push(...ready.entries);
    }
    if (ready.hardState !== null) s.hardState = ready.hardState;
  }

  private restoreStateMachine(n: TestNode, meta: SnapshotMeta): void {
    const contents = n.storage.staged.get(meta.index);
    if (contents === undefined) throw new Error(`${n.id}: snapshot ${meta.index} restored without its bytes`);
    n.storage.applied = [...contents];
    n.storage.appliedIndex = meta.index;
    n.storage.snapshots.set(meta.index, [...contents]);
  }

  private apply(n: TestNode, committed: readonly Entry[]): void {
    for (const entry of committed) {
      if (entry.index !== n.storage.appliedIndex + 1) {
        throw new Error(`${n.id}: applied ${entry.index} after ${n.storage.appliedIndex}`);
      }
      if (entry.type === "normal" && entry.data.length > 0) n.storage.applied.push(text(entry.data));
      n.storage.appliedIndex = entry.index;
    }
  }

  // ---- delivery ----------------------------------------------------------------------------

  /** Delivers one queued message; false when the queue is empty. */
  deliverOne(): boolean {
    const m = this.queue.shift();
    if (m === undefined) return false;
    this.deliver(m);
    return true;
  }

  /** Delivers `m` unless a fault drops it; a snapshot carries the sender's snapshot contents. */
  deliver(m: Message): void {
    if (this.dropped(m)) {
      if (m.type === "snapshot") this.raw(m.from).reportSnapshot(m.to, false);
      return;
    }
    if (m.type === "snapshot" && m.snapshot !== null) {
      const contents = this.get(m.from).storage.snapshots.get(m.snapshot.index);
      if (contents === undefined)
        throw new Error(`${m.from} sent snapshot ${m.snapshot.index} it does not hold`);
      this.get(m.to).storage.staged.set(m.snapshot.index, [...contents]);
    }
    this.raw(m.to).step(m);
    if (m.type === "snapshot") this.raw(m.from).reportSnapshot(m.to, true);
  }

  /** Processes Readys and delivers messages until nothing moves. */
  stabilize(): void {
    for (let i = 0; i < stepsMax; i++) {
      for (const id of this.nodes.keys()) this.process(id);
      if (!this.deliverOne()) return;
    }
    throw new Error(`network not quiescent after ${stepsMax} steps`);
  }

  // ---- drivers -------------------------------------------------------------------------------

  tick(id: NodeId, ticks = 1): void {
    for (let i = 0; i < ticks; i++) this.raw(id).tick();
  }

  /** Ticks every node `ticks` times, stabilizing after each round. */
  tickAll(ticks = 1): void {
    for (let i = 0; i < ticks; i++) {
      for (const n of this.nodes.values()) n.node.tick();
      this.stabilize();
    }
  }

  campaign(id: NodeId): void {
    this.raw(id).campaign();
    this.stabilize();
  }

  /** Elects `id` (with the rest of the network stabilizing) and checks it won. */
  elect(id: NodeId): void {
    this.campaign(id);
    const role = this.raw(id).status().role;
    if (role !== "leader") throw new Error(`${id} did not win the election (role ${role})`);
  }

  propose(id: NodeId, payload: string): ReturnType<RawNode["propose"]> {
    const result = this.raw(id).propose(bytes(payload));
    this.stabilize();
    return result;
  }

  leaderId(): NodeId | null {
    let leader: NodeId | null = null;
    let term = -1;
    for (const n of this.nodes.values()) {
      const status = n.node.status();
      if (status.role === "leader" && status.term > term) [leader, term] = [n.id, status.term];
    }
    return leader;
  }

  /** Crash and restart: everything not persisted is lost; the state machine keeps its applied state. */
  restart(id: NodeId, config?: Partial<Omit<Config, "id">>): void {
    const n = this.get(id);
    n.config = { ...n.config, ...config };
    const s = n.storage;
    s.staged.clear();
    // Streams to the crashed node fail; their senders hear of it as a driver would report.
    for (const m of this.queue) {
      if (m.to === id && m.type === "snapshot") this.nodes.get(m.from)?.node.reportSnapshot(id, false);
    }
    this.queue = this.queue.filter((m) => m.to !== id && m.from !== id);
    n.node = createRawNode(n.config, {
      hardState: s.hardState,
      snapshot: s.snapshot,
      entries: s.entries,
      initialConfState: n.initialConfState,
      applied: s.appliedIndex,
    });
  }

  /** Replaces a node's durable state (term, vote, commit, log with the given terms) and restarts it. */
  load(
    id: NodeId,
    state: { term: number; vote?: NodeId | null; commit?: number; entryTerms: readonly number[] },
  ): void {
    const s = this.get(id).storage;
    s.hardState = { term: state.term, vote: state.vote ?? null, commit: state.commit ?? 0 };
    s.entries = entriesWithTerms(state.entryTerms);
    this.restart(id);
  }

  /** The terms of a node's durable log, index 1 first. */
  logTerms(id: NodeId): number[] {
    return this.get(id).storage.entries.map((e) => e.term);
  }

  /** The driver's snapshot + compaction at the applied index. */
  compact(id: NodeId): SnapshotMeta {
    const n = this.get(id);
    const status = n.node.status();
    const index = status.applied;
    const entry = n.storage.entries.find((e) => e.index === index);
    const term = entry?.term ?? n.storage.snapshot?.term ?? 0;
    const meta: SnapshotMeta = { index, term, confState: status.confState };
    n.storage.snapshots.set(index, [...n.storage.applied]);
    n.storage.snapshot = meta;
    n.storage.entries = n.storage.entries.filter((e) => e.index > index);
    n.node.compact(meta);
    return meta;
  }
}

// ---- single-node harness for message-level tests (etcd raft_paper_test.go style) ----------

export interface TestNodeState {
  readonly term?: number;
  readonly vote?: NodeId | null;
  readonly commit?: number;
  /** Terms of entries 1..n. */
  readonly entryTerms?: readonly number[];
  readonly applied?: number;
  readonly learners?: readonly NodeId[];
  readonly config?: Partial<Omit<Config, "id">>;
}

export function entriesWithTerms(terms: readonly number[], from = 1): Entry[] {
  return terms.map((term, i) => ({
    term,
    index: from + i,
    type: "normal" as const,
    data: bytes(`e${from + i}`),
  }));
}

/** A node restored with the given hard state and log, not wired to any network. */
export function newTestNode(id: NodeId, voters: readonly NodeId[], state: TestNodeState = {}): RawNode {
  const config: Config = { ...defaultTestConfig, ...state.config, id, seed: state.config?.seed ?? 7 };
  return createRawNode(config, {
    hardState: { term: state.term ?? 0, vote: state.vote ?? null, commit: state.commit ?? 0 },
    snapshot: null,
    entries: entriesWithTerms(state.entryTerms ?? []),
    initialConfState: { voters: [...voters], learners: [...(state.learners ?? [])] },
    applied: state.applied ?? 0,
  });
}

/** Handles every Ready of `node` as a driver would (without storage); returns the Readys. */
export function drainReadies(node: RawNode): Ready[] {
  const readies: Ready[] = [];
  for (let i = 0; i < stepsMax && node.hasReady(); i++) {
    const ready = node.ready();
    readies.push(ready);
    node.advance(ready);
  }
  return readies;
}

/** The messages of every pending Ready of `node`. */
export function drainMessages(node: RawNode): Message[] {
  return drainReadies(node).flatMap((r) => [...r.messages]);
}
