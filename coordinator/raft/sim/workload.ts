import type { KvInput } from "./kv-model.js";
import type { Rng } from "./rng.js";
import type { HistoryEntry, Outcome } from "./history.js";
import type { Simulator } from "./simulator.js";

/** Shape of the client load of a run. */
export interface WorkloadOptions {
  readonly clients: number;
  /** Few keys, so that operations contend and the checker has something to decide. */
  readonly keys: readonly string[];
  readonly thinkTicksMax: number;
  /** Share of reads served by ReadIndex (the rest go through the log). */
  readonly readIndexShare: number;
  /** Share of operations sent to the node the client believes leads (the rest: any node). */
  readonly leaderAffinity: number;
  /** Attempts per operation; retries reuse the operation's sequence number. */
  readonly attemptsMax: number;
  readonly retryBackoffTicksMax: number;
}

interface Current {
  readonly op: HistoryEntry;
  readonly viaReadIndex: boolean;
  attempts: number;
  /** Some attempt ended without a definite answer: the operation may have taken effect. */
  uncertain: boolean;
  /** Tick of the next attempt, or null while one is in flight. */
  retryTick: number | null;
}

interface ClientState {
  readonly id: number;
  seq: number;
  current: Current | null;
  nextInvokeTick: number;
  /** Last value this client saw per key: compare-and-set expects it, so some succeed. */
  readonly seen: Map<string, string | null>;
}

/**
 * Closed-loop clients: each has at most one operation outstanding, waits a random think
 * time after it ends, then sends put / get / cas / append on a few keys to a random node
 * (followers forward proposals to the leader). Values are unique per operation, so a read
 * names the write it saw. A client retries an operation that failed or timed out with the
 * same sequence number, as a client of a session does (dissertation §6.3), so most
 * operations end with a definite answer; one whose last attempt timed out ends unknown.
 */
export class Workload {
  private readonly clients: ClientState[] = [];
  private stopped = false;

  constructor(
    private readonly sim: Simulator,
    private readonly rng: Rng,
    private readonly options: WorkloadOptions,
  ) {
    for (let id = 0; id < options.clients; id++) {
      this.clients.push({
        id,
        seq: 0,
        current: null,
        nextInvokeTick: rng.int(0, options.thinkTicksMax),
        seen: new Map(),
      });
    }
  }

  /** Stops issuing operations and retries; operations waiting for a retry end at once. */
  stop(): void {
    this.stopped = true;
    for (const client of this.clients) {
      const current = client.current;
      if (current !== null && current.retryTick !== null)
        this.end(client, current, this.finalOutcome(current, "stopped"));
    }
  }

  get idle(): boolean {
    return this.clients.every((client) => client.current === null);
  }

  step(): void {
    if (this.stopped) return;
    for (const client of this.clients) {
      const current = client.current;
      if (current === null && client.nextInvokeTick <= this.sim.now) this.invoke(client);
      else if (current?.retryTick != null && current.retryTick <= this.sim.now)
        this.sendAttempt(client, current);
    }
  }

  private pickTarget(): string {
    const candidates = this.sim.nodes().filter((node) => !node.retired);
    const leader = this.sim.leader();
    if (leader !== null && this.rng.chance(this.options.leaderAffinity)) return leader.id;
    return this.rng.pick(candidates).id;
  }

  private pickInput(client: ClientState): KvInput {
    const key = this.rng.pick(this.options.keys);
    const value = `${client.id}.${client.seq}`;
    const roll = this.rng.float();
    if (roll < 0.35) return { kind: "get", key };
    if (roll < 0.6) return { kind: "put", key, value };
    if (roll < 0.8) return { kind: "append", key, value: `${value};` };
    const expected = client.seen.get(key) ?? null;
    return { kind: "cas", key, expected, value };
  }

  private invoke(client: ClientState): void {
    client.seq++;
    const input = this.pickInput(client);
    const viaReadIndex = input.kind === "get" && this.rng.chance(this.options.readIndexShare);
    const current: Current = {
      op: this.sim.begin(client.id, client.seq, input),
      viaReadIndex,
      attempts: 0,
      uncertain: false,
      retryTick: null,
    };
    client.current = current;
    this.sendAttempt(client, current);
  }

  private sendAttempt(client: ClientState, current: Current): void {
    current.attempts++;
    current.retryTick = null;
    this.sim.attempt(current.op, client.seq, this.pickTarget(), current.viaReadIndex, (outcome) =>
      this.attemptEnded(client, current, outcome),
    );
  }

  private attemptEnded(client: ClientState, current: Current, outcome: Outcome): void {
    if (client.current !== current) return;
    if (outcome.kind === "ok") {
      if (outcome.output.kind === "get") client.seen.set(current.op.input.key, outcome.output.value);
      this.end(client, current, outcome);
      return;
    }
    if (outcome.kind === "unknown") current.uncertain = true;
    if (this.stopped || current.attempts >= this.options.attemptsMax) {
      this.end(client, current, this.finalOutcome(current, outcome.reason));
      return;
    }
    current.retryTick = this.sim.now + this.rng.int(1, this.options.retryBackoffTicksMax);
  }

  private finalOutcome(current: Current, reason: string): Outcome {
    return current.uncertain ? { kind: "unknown", reason } : { kind: "fail", reason };
  }

  private end(client: ClientState, current: Current, outcome: Outcome): void {
    client.current = null;
    client.nextInvokeTick = this.sim.now + this.rng.int(1, this.options.thinkTicksMax);
    this.sim.finish(current.op, outcome);
  }
}
