import { applyConfChange, decodeConfChange } from "../core/conf-change.js";
import type {
  Config,
  ConfState,
  Entry,
  Message,
  NodeId,
  RawNode,
  Ready,
  RestoredState,
  SnapshotMeta,
} from "../core/types.js";
import type { SafetyCheckers } from "./checkers.js";
import type { Outcome, HistoryEntry } from "./history.js";
import type { KvOutput } from "./kv-model.js";
import { encodeCommand, KvStateMachine } from "./kv-state-machine.js";
import { lastIndexOf, SimStorage, termAt, type DiskImage } from "./sim-storage.js";
import type { TraceEvent } from "./trace.js";

/**
 * Where a crash may land while a node handles one Ready, in the driver's order:
 * persist (fsync) → send → restore snapshot → apply → advance.
 */
export type CrashPoint =
  "beforePersist" | "afterPersist" | "afterSend" | "afterRestore" | "midApply" | "afterApply";

export const crashPoints: readonly CrashPoint[] = [
  "beforePersist",
  "afterPersist",
  "afterSend",
  "afterRestore",
  "midApply",
  "afterApply",
];

/** A client operation waiting on this node. */
export interface ClientRequest {
  readonly op: HistoryEntry;
  readonly seq: number;
  readonly deadlineTick: number;
  /** Reads served by ReadIndex (§6.4) rather than through the log. */
  readonly viaReadIndex: boolean;
  /** The read point once the leader confirmed it, else null. */
  readIndex: number | null;
  /** How this attempt ended (the node calls it through NodeHost.complete, exactly once). */
  readonly onEnd: (outcome: Outcome) => void;
}

/** What a node needs from the simulator around it. */
export interface NodeHost {
  now(): number;
  send(from: SimNode, message: Message, payload: Uint8Array | null): void;
  /** The message just sent left while the sender's batch was on the disk. */
  sentEarly(): void;
  /** Called once per crash with the node already down. */
  crashed(node: SimNode): void;
  complete(request: ClientRequest, outcome: Outcome): void;
  /** A committed conf change removed `id` (this node applied it). */
  memberRemoved(id: NodeId): void;
  /** A client command `clientId:seq` took effect here with `output` (duplicates are not reported). */
  commandApplied(key: string, output: KvOutput): void;
  trace(event: TraceEvent): void;
  readonly checkers: SafetyCheckers;
}

/** Builds the core of one node (createRawNode, or a deliberately broken variant in tests). */
export type RawNodeFactory = (config: Config, restored: RestoredState) => RawNode;

/** Fixed settings of one simulated node, kept across its restarts. */
export interface SimNodeOptions {
  readonly id: NodeId;
  readonly config: Omit<Config, "id" | "seed">;
  /** Membership of the fresh cluster; the log and snapshots are relative to it. */
  readonly initialConfState: ConfState;
  /** Take a snapshot and compact once this many entries were applied since the last one. */
  readonly snapshotEveryEntries: number;
  readonly createRawNode: RawNodeFactory;
  /** What the disk holds before the first start (durable). */
  readonly disk: DiskImage;
}

const encoder = new TextEncoder();

function contextKey(context: Uint8Array): string {
  let key = "";
  for (const byte of context) key += byte.toString(16).padStart(2, "0");
  return key;
}

function snapshotKey(meta: SnapshotMeta): string {
  return `${meta.index}/${meta.term}`;
}

function sameIds(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  return a.length === b.length && a.every((id) => b.includes(id));
}

/** Membership equality without sorting (this runs after every Ready). */
function sameMembers(a: ConfState, b: ConfState): boolean {
  return sameIds(a.voters, b.voters) && sameIds(a.learners, b.learners);
}

/** Thrown inside a Ready when an armed crash fires; caught by the node itself. */
class CrashNow extends Error {}

/** A broken driver-side expectation about the core's output (reported like a safety violation). */
export class DriverInvariantError extends Error {
  constructor(message: string) {
    super(`driver invariant: ${message}`);
    this.name = "DriverInvariantError";
  }
}

/**
 * One simulated coordinator: the pure core plus a driver modelled on the real one. It
 * handles each Ready in order — persist (fsync) → send → restore snapshot → apply →
 * advance — and a crash may be armed to land between any two of those steps. On a slow
 * disk a Ready stays outstanding for some ticks while the core takes ticks and messages.
 * Its disk keeps only what was synced (plus, on a process crash, what was written); the
 * state machine persists each applied entry with its index in one synced batch, so it
 * survives every crash as it is.
 */
export class SimNode {
  readonly id: NodeId;
  raw: RawNode | null = null;
  readonly storage: SimStorage;
  incarnation = 0;
  /** Set when the node was removed from the cluster and shut down for good. */
  retired = false;
  private sm = new KvStateMachine();
  private smApplied = 0;
  private confAtApplied: ConfState;
  private armedCrash: {
    point: CrashPoint;
    survivingWrites: number;
    when: ((ready: Ready) => boolean) | null;
  } | null = null;
  /** The armed crash point if it fires in the Ready being handled. */
  private crashPointNow: CrashPoint | null = null;
  private readonly receivedSnapshots = new Map<string, Uint8Array>();
  private readonly pendingWrites = new Map<string, ClientRequest>();
  private readonly pendingReads = new Map<string, ClientRequest>();
  private deferredReports: (() => void)[] = [];
  /** A slow disk: until this tick, each synced batch takes `slowDiskTicks` ticks. */
  private slowDiskUntil = 0;
  private slowDiskTicks = 0;
  /**
   * The Ready whose batch is on a slow disk: handled up to its persist, advanced once the
   * batch lands at `releaseAt`. Meanwhile the core takes ticks and messages, and only its
   * early messages (RawNode.takeEarlyMessages) leave, as in the real driver.
   */
  private held: { readonly ready: Ready; readonly releaseAt: number; crashPoint: CrashPoint | null } | null =
    null;

  constructor(
    private readonly options: SimNodeOptions,
    private readonly host: NodeHost,
    private readonly seedFor: (incarnation: number) => number,
  ) {
    this.id = options.id;
    this.storage = new SimStorage(options.disk);
    this.confAtApplied = options.initialConfState;
  }

  get alive(): boolean {
    return this.raw !== null;
  }

  get applied(): number {
    return this.smApplied;
  }

  get stateMachine(): KvStateMachine {
    return this.sm;
  }

  /** Membership as of the applied index (what a snapshot taken now records). */
  get appliedConfState(): ConfState {
    return this.confAtApplied;
  }

  /** Starts (or restarts) the node from what its disk and state machine hold. */
  start(): void {
    if (this.raw !== null) throw new Error(`${this.id} is already running`);
    this.incarnation++;
    const disk = this.storage.durableImage;
    const snapshot = disk.snapshot;
    if (snapshot !== null && snapshot.meta.index > this.smApplied) {
      // Crashed after persisting a received snapshot but before restoring from it.
      this.restoreStateMachine(snapshot.meta, snapshot.data);
    }
    const restored: RestoredState = {
      hardState: disk.hardState,
      snapshot: snapshot?.meta ?? null,
      entries: disk.entries,
      initialConfState: this.options.initialConfState,
      applied: this.smApplied,
    };
    const config: Config = { ...this.options.config, id: this.id, seed: this.seedFor(this.incarnation) };
    this.raw = this.options.createRawNode(config, restored);
    this.trace(
      "start",
      `incarnation=${this.incarnation} term=${disk.hardState.term} vote=${disk.hardState.vote ?? "-"} commit=${disk.hardState.commit} last=${lastIndexOf(disk)} applied=${this.smApplied}`,
    );
    this.host.checkers.observeRestart(
      this.id,
      disk.hardState.commit,
      this.raw.status().commit,
      this.raw.status().applied,
    );
    this.check();
    // The driver's loop runs at once: committed entries (bootstrap ones) get applied.
    this.drain();
  }

  /**
   * Stops the node at once. `survivingWrites` unsynced writes reach the disk: Infinity for
   * a process crash (the page cache survives), fewer for a power loss.
   */
  crash(survivingWrites: number): void {
    if (this.raw === null) return;
    this.storage.crash(survivingWrites);
    this.raw = null;
    this.held = null;
    this.armedCrash = null;
    this.crashPointNow = null;
    this.receivedSnapshots.clear();
    this.deferredReports = [];
    const lost = this.storage.durableImage;
    this.trace(
      "crash",
      `durable term=${lost.hardState.term} vote=${lost.hardState.vote ?? "-"} last=${lastIndexOf(lost)} applied=${this.smApplied}`,
    );
    const requests = [...this.pendingWrites.values(), ...this.pendingReads.values()];
    this.pendingWrites.clear();
    this.pendingReads.clear();
    for (const request of requests)
      this.host.complete(request, { kind: "unknown", reason: `${this.id} crashed` });
    this.host.crashed(this);
  }

  /** Arms a crash at `point` of the next Ready this node handles (that satisfies `when`). */
  armCrash(
    point: CrashPoint,
    survivingWrites: number,
    when: ((ready: Ready) => boolean) | null = null,
  ): void {
    this.armedCrash = { point, survivingWrites, when };
  }

  disarmCrash(): void {
    this.armedCrash = null;
    if (this.held !== null) this.held.crashPoint = null;
  }

  get crashArmed(): CrashPoint | null {
    return this.armedCrash?.point ?? null;
  }

  /** Runs `action` on the core, then handles every Ready it produced. */
  act(action: (raw: RawNode) => void): void {
    if (this.raw === null) return;
    action(this.raw);
    if (this.held !== null) this.sendEarly(this.raw);
    this.drain();
  }

  /** Until tick `until`, every synced batch of this node takes `ticks` ticks to land. */
  slowDisk(until: number, ticks: number): void {
    this.slowDiskUntil = until;
    this.slowDiskTicks = ticks;
  }

  /** While a batch is on the disk: what may leave before it is durable (types.ts RawNode). */
  private sendEarly(raw: RawNode): void {
    const durableTerm = this.storage.durableImage.hardState.term;
    for (const message of raw.takeEarlyMessages()) {
      const early =
        message.type === "heartbeat" || message.type === "heartbeatResp" || message.type === "readIndexResp";
      if (!early || message.term !== durableTerm) {
        throw new DriverInvariantError(
          `${this.id}: ${message.type} of term ${message.term} sent before the batch on the disk (durable term ${durableTerm})`,
        );
      }
      this.sendOne(message);
      this.host.sentEarly();
    }
  }

  tick(): void {
    this.act((raw) => raw.tick());
  }

  deliver(message: Message, payload: Uint8Array | null): void {
    if (this.raw === null) return;
    if (message.type === "snapshot" && message.snapshot !== null && payload !== null) {
      this.receivedSnapshots.set(snapshotKey(message.snapshot), payload);
    }
    this.trace("recv", undefined, message);
    this.act((raw) => raw.step(message));
  }

  /**
   * A client operation arrives here. Returns its outcome when it ended at once (a definite
   * failure: down, or the core refused the proposal), else null: it completes through the host.
   */
  submit(request: ClientRequest): Outcome | null {
    const raw = this.raw;
    if (raw === null) return { kind: "fail", reason: `${this.id} is down` };
    const input = request.op.input;
    if (request.viaReadIndex) {
      const context = encoder.encode(`read:${request.op.clientId}:${request.seq}`);
      this.pendingReads.set(contextKey(context), request);
      this.act((r) => r.readIndex(context));
      return null;
    }
    const data = encodeCommand({ clientId: request.op.clientId, seq: request.seq, input });
    const result = raw.propose(data);
    if (!result.ok) return { kind: "fail", reason: `${this.id}: ${result.reason}` };
    this.pendingWrites.set(`${request.op.clientId}:${request.seq}`, request);
    this.drain();
    return null;
  }

  /** Gives up on requests past their deadline: their outcome is unknown. */
  expireRequests(now: number): void {
    for (const pending of [this.pendingWrites, this.pendingReads]) {
      for (const [key, request] of pending) {
        if (request.deadlineTick > now) continue;
        pending.delete(key);
        this.host.complete(request, { kind: "unknown", reason: `timeout on ${this.id}` });
      }
    }
  }

  private drain(): void {
    for (let round = 0; this.raw !== null; round++) {
      if (round > 1000) throw new DriverInvariantError(`${this.id} produced Readys without end`);
      const held = this.held;
      if (held !== null && held.releaseAt > this.host.now()) break;
      if (held === null && !this.raw.hasReady()) break;
      try {
        if (held === null) {
          this.handleReady(this.raw, this.raw.ready());
        } else {
          this.held = null;
          this.crashPointNow = held.crashPoint;
          this.finishReady(this.raw, held.ready);
        }
      } catch (error) {
        if (!(error instanceof CrashNow)) throw error;
        this.crash(this.armedCrash?.survivingWrites ?? Number.POSITIVE_INFINITY);
        return;
      }
      this.check();
    }
    const reports = this.deferredReports;
    this.deferredReports = [];
    for (const report of reports) report();
    if (reports.length > 0 && this.raw !== null) this.drain();
  }

  /** Feedback for the core about a message it sent (delivered after the current Ready). */
  defer(report: (raw: RawNode) => void): void {
    this.deferredReports.push(() => {
      if (this.raw !== null) report(this.raw);
    });
  }

  private maybeCrash(point: CrashPoint): void {
    if (this.crashPointNow === point) throw new CrashNow();
  }

  private handleReady(raw: RawNode, ready: Ready): void {
    const armed = this.armedCrash;
    this.crashPointNow = armed !== null && (armed.when === null || armed.when(ready)) ? armed.point : null;
    // The pipelined order the real driver may take (types.ts Ready): a leader's messages
    // leave before its fsync (dissertation §10.2.1), and committed entries, all stored by
    // earlier Readys, are applied before this Ready's write lands; crashes may fall between.
    if (ready.sendBeforePersist) {
      this.checkEarlySend(ready);
      this.sendAll(ready);
    }
    const applyFirst = ready.snapshot === null;
    if (applyFirst) this.applyAll(ready);
    if (ready.mustSync && this.slowDiskUntil > this.host.now()) {
      this.held = { ready, releaseAt: this.host.now() + this.slowDiskTicks, crashPoint: this.crashPointNow };
      this.trace("slow-fsync", `until tick ${this.held.releaseAt}`);
      return;
    }
    this.finishReady(raw, ready);
  }

  /** The rest of a Ready, from its persist on (at once, or when a slow disk lands it). */
  private finishReady(raw: RawNode, ready: Ready): void {
    const applyFirst = ready.snapshot === null;
    this.maybeCrash("beforePersist");
    this.persist(ready);
    this.maybeCrash("afterPersist");
    if (!ready.sendBeforePersist) this.sendAll(ready);
    this.maybeCrash("afterSend");
    if (ready.snapshot !== null) this.restoreFromReceived(ready.snapshot);
    this.maybeCrash("afterRestore");
    if (!applyFirst) this.applyAll(ready);
    for (const readState of ready.readStates) this.readPointConfirmed(readState.index, readState.context);
    this.serveReads();
    this.maybeCrash("afterApply");
    raw.advance(ready);
    this.maybeSnapshot(raw);
  }

  private sendAll(ready: Ready): void {
    for (const message of ready.messages) this.sendOne(message);
  }

  private applyAll(ready: Ready): void {
    ready.committedEntries.forEach((entry, i) => {
      if (entry.index > lastIndexOf(this.storage.durableImage)) {
        throw new DriverInvariantError(
          `${this.id}: entry ${entry.index} handed out for applying before it is durable`,
        );
      }
      this.applyEntry(entry);
      if (i === 0 && ready.committedEntries.length > 1) this.maybeCrash("midApply");
    });
    if (ready.committedEntries.length <= 1) this.maybeCrash("midApply");
  }

  /** A Ready that lets messages leave before its fsync may depend on nothing it persists. */
  private checkEarlySend(ready: Ready): void {
    if (ready.snapshot !== null || this.voteChanged(ready)) {
      throw new DriverInvariantError(`${this.id}: sendBeforePersist with a snapshot or a new term or vote`);
    }
    // A leader answers a stale leader's append with an empty appendResp carrying only its
    // (durable) term; an acknowledgement of entries or a granted vote must never be here.
    const granted = ready.messages.find(
      (m) => (m.type === "appendResp" && !m.reject && m.index > 0) || (m.type === "voteResp" && !m.reject),
    );
    if (granted !== undefined) {
      throw new DriverInvariantError(
        `${this.id}: sendBeforePersist with an acknowledgement (${granted.type})`,
      );
    }
  }

  private persist(ready: Ready): void {
    if (ready.snapshot !== null) {
      const data = this.receivedSnapshots.get(snapshotKey(ready.snapshot));
      if (data === undefined)
        throw new DriverInvariantError(
          `${this.id}: Ready names snapshot ${snapshotKey(ready.snapshot)} that never arrived`,
        );
      this.storage.write({ kind: "snapshot", snapshot: { meta: ready.snapshot, data }, replacesLog: true });
    }
    const first = ready.entries[0];
    if (first !== undefined) {
      const prevTerm = termAt(this.storage.current, first.index - 1);
      if (prevTerm === undefined)
        throw new DriverInvariantError(`${this.id}: entries at ${first.index} do not follow the log`);
      this.storage.write({ kind: "append", entries: ready.entries });
      this.host.checkers.observeAppend(this.id, ready.entries, prevTerm);
    }
    if (ready.hardState !== null) this.storage.write({ kind: "hardState", hardState: ready.hardState });
    if (ready.mustSync) this.storage.sync();
    else if (ready.entries.length > 0 || ready.snapshot !== null || this.voteChanged(ready)) {
      throw new DriverInvariantError(
        `${this.id}: Ready with entries, a snapshot or a new vote/term says mustSync=false`,
      );
    }
  }

  private voteChanged(ready: Ready): boolean {
    const hs = ready.hardState;
    if (hs === null) return false;
    const current = this.storage.durableImage.hardState;
    return hs.term !== current.term || hs.vote !== current.vote;
  }

  private sendOne(message: Message): void {
    let payload: Uint8Array | null = null;
    if (message.type === "snapshot") {
      const stored = this.storage.current.snapshot;
      const named = message.snapshot;
      if (named !== null && stored !== null && named.index < stored.meta.index) {
        // Named while a batch was on the disk, and replaced by a newer snapshot since. The
        // simulated disk keeps only the newest; the real driver keeps a few and reports the
        // send failed when the named one was pruned. Either way the leader sends the newer
        // one on its next try.
        this.trace("snapshot-gone", snapshotKey(named));
        this.defer((raw) => raw.reportSnapshot(message.to, false));
        return;
      }
      if (
        message.snapshot === null ||
        stored === null ||
        snapshotKey(stored.meta) !== snapshotKey(message.snapshot)
      ) {
        throw new DriverInvariantError(
          `${this.id}: sends snapshot ${message.snapshot === null ? "null" : snapshotKey(message.snapshot)} but stores ${stored === null ? "none" : snapshotKey(stored.meta)}`,
        );
      }
      payload = stored.data;
    }
    this.host.send(this, message, payload);
  }

  private restoreFromReceived(meta: SnapshotMeta): void {
    const stored = this.storage.current.snapshot;
    if (stored === null || snapshotKey(stored.meta) !== snapshotKey(meta)) {
      throw new DriverInvariantError(`${this.id}: snapshot ${snapshotKey(meta)} not on disk at restore`);
    }
    this.restoreStateMachine(meta, stored.data);
    this.receivedSnapshots.delete(snapshotKey(meta));
  }

  private restoreStateMachine(meta: SnapshotMeta, data: Uint8Array): void {
    if (meta.index < this.smApplied) {
      throw new DriverInvariantError(
        `${this.id}: snapshot at ${meta.index} would move applied back from ${this.smApplied}`,
      );
    }
    this.sm = KvStateMachine.restore(data);
    this.smApplied = meta.index;
    this.confAtApplied = meta.confState;
    this.trace("restore", `snapshot=${snapshotKey(meta)}`);
    this.host.checkers.observeSnapshot(this.id, meta, this.sm.digest());
    this.host.checkers.observeDurableApplied(this.id, this.smApplied);
  }

  private applyEntry(entry: Entry): void {
    if (entry.index !== this.smApplied + 1) {
      throw new DriverInvariantError(`${this.id}: applies ${entry.index} after ${this.smApplied}`);
    }
    if (termAt(this.storage.current, entry.index) !== entry.term) {
      throw new DriverInvariantError(
        `${this.id}: applies (${entry.index}, t${entry.term}) that its disk does not hold`,
      );
    }
    if (entry.type === "confChange") {
      const change = decodeConfChange(entry.data);
      const before = this.confAtApplied;
      this.confAtApplied = applyConfChange(before, change);
      if (change.type === "remove" && this.confAtApplied !== before) this.host.memberRemoved(change.nodeId);
    } else if (entry.data.byteLength > 0) {
      const result = this.sm.apply(entry.data);
      const key = `${result.command.clientId}:${result.command.seq}`;
      if (!result.duplicate) this.host.commandApplied(key, result.output);
      const request = this.pendingWrites.get(key);
      if (request !== undefined) {
        this.pendingWrites.delete(key);
        this.host.complete(request, { kind: "ok", output: result.output });
      }
    }
    this.smApplied = entry.index;
    const term = this.raw?.status().term ?? 0;
    this.host.checkers.observeApply(this.id, entry, term, this.sm.digest());
    this.host.checkers.observeDurableApplied(this.id, this.smApplied);
  }

  private readPointConfirmed(index: number, context: Uint8Array): void {
    const request = this.pendingReads.get(contextKey(context));
    if (request !== undefined && request.readIndex === null) request.readIndex = index;
  }

  /** Answers ReadIndex reads whose read point is applied (§6.4 step 4). */
  private serveReads(): void {
    for (const [key, request] of this.pendingReads) {
      if (request.readIndex === null || request.readIndex > this.smApplied) continue;
      this.pendingReads.delete(key);
      const input = request.op.input;
      this.host.complete(request, { kind: "ok", output: { kind: "get", value: this.sm.read(input.key) } });
    }
  }

  private maybeSnapshot(raw: RawNode): void {
    const disk: DiskImage = this.storage.current;
    const since = this.smApplied - (disk.snapshot?.meta.index ?? 0);
    if (since < this.options.snapshotEveryEntries) return;
    const term = termAt(disk, this.smApplied);
    if (term === undefined)
      throw new DriverInvariantError(`${this.id}: no term at applied ${this.smApplied}`);
    const meta: SnapshotMeta = { index: this.smApplied, term, confState: this.confAtApplied };
    this.storage.write({
      kind: "snapshot",
      snapshot: { meta, data: this.sm.serialize() },
      replacesLog: false,
    });
    this.storage.sync();
    this.host.checkers.observeSnapshot(this.id, meta, this.sm.digest());
    raw.compact(meta);
    this.trace("compact", `snapshot=${snapshotKey(meta)}`);
  }

  /** Runs the per-step checks on this node's visible state. */
  check(): void {
    const raw = this.raw;
    if (raw === null) return;
    const status = raw.status();
    const checkers = this.host.checkers;
    if (status.role === "leader") {
      const disk = this.storage.current;
      checkers.observeLeader(this.id, status.term, {
        termAt: (index) => termAt(disk, index),
        snapshotIndex: () => disk.snapshot?.meta.index ?? 0,
        lastIndex: () => lastIndexOf(disk),
      });
    }
    checkers.observeIndexes(this.id, this.incarnation, status.commit, status.applied);
    // A held Ready's committed entries are applied here, but the core hears of it at advance.
    if (this.held !== null) return;
    // A snapshot stepped while a batch was on the disk puts the core's membership at its
    // index (committed state) before the next Ready hands it out for restoring.
    const snapshotPending = status.firstIndex > status.applied + 1;
    if (
      status.applied !== this.smApplied ||
      (!snapshotPending && !sameMembers(status.confState, this.confAtApplied))
    ) {
      throw new DriverInvariantError(
        `${this.id}: core says applied ${status.applied} with ${JSON.stringify(status.confState)}, ` +
          `state machine is at ${this.smApplied} with ${JSON.stringify(this.confAtApplied)}`,
      );
    }
  }

  private trace(what: string, detail?: string, message?: Message): void {
    const event: { tick: number; node: string; what: string; detail?: string; message?: Message } = {
      tick: this.host.now(),
      node: this.id,
      what,
    };
    if (detail !== undefined) event.detail = detail;
    if (message !== undefined) event.message = message;
    this.host.trace(event);
  }
}
