import type { Message, NodeId } from "../core/types.js";
import type { Rng } from "./rng.js";

/** Per-message faults of the simulated network, drawn from the seed. */
export interface NetworkFaults {
  /** Probability that a message is silently lost. */
  readonly lossRate: number;
  /** Probability that a message is delivered twice (each copy with its own delay). */
  readonly duplicateRate: number;
  /** Delivery delay range in ticks; a range wider than zero reorders messages. */
  readonly delayTicksMin: number;
  readonly delayTicksMax: number;
  /** Probability that a message straggles: it arrives up to `straggleTicksMax` late, long after its peers. */
  readonly straggleRate: number;
  readonly straggleTicksMax: number;
}

export const perfectNetwork: NetworkFaults = {
  lossRate: 0,
  duplicateRate: 0,
  delayTicksMin: 1,
  delayTicksMax: 1,
  straggleRate: 0,
  straggleTicksMax: 0,
};

/** A message on the wire. `payload` carries snapshot bytes beside a "snapshot" message. */
export interface InFlightMessage {
  readonly seq: number;
  /** False for the extra copy of a duplicated message. */
  readonly original: boolean;
  readonly deliverAt: number;
  readonly message: Message;
  readonly payload: Uint8Array | null;
}

/** What happened to a sent message, for the trace. */
export type SendOutcome = "queued" | "lost" | "duplicated" | "cut";

function linkKey(from: NodeId, to: NodeId): string {
  return `${from}>${to}`;
}

/**
 * The simulated network: a priority queue of messages ordered by (delivery tick, send order),
 * and a set of cut directed links. A link cut while a message is in flight drops it at
 * delivery, like a partition does. In manual mode (scripted scenarios) nothing is delivered
 * by time: the script picks which messages go through.
 */
export class SimNetwork {
  private queue: InFlightMessage[] = [];
  private readonly cutLinks = new Set<string>();
  private nextSeq = 0;

  constructor(
    private readonly rng: Rng,
    public faults: NetworkFaults,
    readonly manual = false,
  ) {}

  send(message: Message, payload: Uint8Array | null, now: number): SendOutcome {
    if (this.isCut(message.from, message.to)) return "cut";
    if (this.manual) {
      this.enqueue(message, payload, Number.POSITIVE_INFINITY, true);
      return "queued";
    }
    if (this.rng.chance(this.faults.lossRate)) return "lost";
    this.enqueue(message, payload, now + this.delay(), true);
    if (!this.rng.chance(this.faults.duplicateRate)) return "queued";
    this.enqueue(message, payload, now + this.delay(), false);
    return "duplicated";
  }

  private delay(): number {
    const delay = this.rng.int(this.faults.delayTicksMin, this.faults.delayTicksMax);
    if (!this.rng.chance(this.faults.straggleRate)) return delay;
    return delay + this.rng.int(1, this.faults.straggleTicksMax);
  }

  private enqueue(message: Message, payload: Uint8Array | null, deliverAt: number, original: boolean): void {
    this.queue.push({ seq: this.nextSeq++, original, deliverAt, message, payload });
  }

  /** Removes and returns the messages due at `now`, in delivery order (check isCut before delivering). */
  takeDue(now: number): InFlightMessage[] {
    const due: InFlightMessage[] = [];
    const rest: InFlightMessage[] = [];
    for (const item of this.queue) (item.deliverAt <= now ? due : rest).push(item);
    if (due.length === 0) return due;
    this.queue = rest;
    due.sort((x, y) => x.deliverAt - y.deliverAt || x.seq - y.seq);
    return due;
  }

  /** Puts a taken message back, to arrive at `deliverAt` (its place among equals is kept). */
  postpone(item: InFlightMessage, deliverAt: number): void {
    this.queue.push({ ...item, deliverAt });
  }

  /** Manual mode: removes and returns the queued messages matching `filter`, in send order. */
  take(filter: (item: InFlightMessage) => boolean): InFlightMessage[] {
    const taken: InFlightMessage[] = [];
    this.queue = this.queue.filter((item) => (filter(item) ? (taken.push(item), false) : true));
    return taken;
  }

  /** The queued messages, in send order (read-only view for scripts and traces). */
  pending(): readonly InFlightMessage[] {
    return this.queue;
  }

  /** Drops every queued message to or from `node` (its sockets died with it). */
  dropFor(node: NodeId): void {
    this.queue = this.queue.filter((item) => item.message.to !== node && item.message.from !== node);
  }

  isCut(from: NodeId, to: NodeId): boolean {
    return this.cutLinks.has(linkKey(from, to));
  }

  /** Cuts the link from → to only (an asymmetric fault). */
  cutOneWay(from: NodeId, to: NodeId): void {
    this.cutLinks.add(linkKey(from, to));
  }

  cut(a: NodeId, b: NodeId): void {
    this.cutOneWay(a, b);
    this.cutOneWay(b, a);
  }

  heal(a: NodeId, b: NodeId): void {
    this.cutLinks.delete(linkKey(a, b));
    this.cutLinks.delete(linkKey(b, a));
  }

  /** Cuts every link between the two sides. */
  partition(sideA: readonly NodeId[], sideB: readonly NodeId[]): void {
    for (const a of sideA) for (const b of sideB) this.cut(a, b);
  }

  healAll(): void {
    this.cutLinks.clear();
  }

  /** The cut directed links as [from, to] pairs, sorted (deterministic order for healing). */
  cutPairs(): [NodeId, NodeId][] {
    return [...this.cutLinks].sort().map((key) => key.split(">") as [NodeId, NodeId]);
  }
}
