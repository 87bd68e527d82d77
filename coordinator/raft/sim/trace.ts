import type { Message } from "../core/types.js";

/** One line of the simulation trace; formatted only when printed. */
export interface TraceEvent {
  readonly tick: number;
  readonly node: string;
  readonly what: string;
  readonly message?: Message;
  readonly detail?: string;
}

export function formatMessage(m: Message): string {
  const parts = [`${m.from}→${m.to} ${m.type} t${m.term}`];
  if (m.type === "append" || m.type === "vote" || m.type === "preVote")
    parts.push(`log=${m.index}/t${m.logTerm}`);
  if (m.type === "appendResp") parts.push(`idx=${m.index}`);
  if (m.entries.length > 0) {
    const first = m.entries[0];
    const last = m.entries[m.entries.length - 1];
    parts.push(`ents=[${first?.index}..${last?.index}]`);
  }
  if (m.commit > 0) parts.push(`commit=${m.commit}`);
  if (m.reject)
    parts.push(m.type === "appendResp" ? `reject hint=${m.rejectHint}/t${m.rejectTermHint}` : "reject");
  if (m.snapshot !== null) parts.push(`snap=${m.snapshot.index}/t${m.snapshot.term}`);
  return parts.join(" ");
}

function formatEvent(event: TraceEvent): string {
  const message = event.message === undefined ? "" : ` ${formatMessage(event.message)}`;
  const detail = event.detail === undefined ? "" : ` ${event.detail}`;
  return `t=${event.tick} ${event.node} ${event.what}${message}${detail}`;
}

/**
 * The last `capacity` events of a run, kept in a ring so a long run costs bounded memory.
 * With `echo` every event is also printed as it happens (TRACE=1 when replaying a seed).
 */
export class TraceRing {
  private readonly events: (TraceEvent | undefined)[];
  private next = 0;
  private total = 0;

  constructor(
    private readonly capacity: number,
    private readonly echo: ((line: string) => void) | null = null,
  ) {
    this.events = new Array<TraceEvent | undefined>(capacity);
  }

  add(event: TraceEvent): void {
    this.events[this.next] = event;
    this.next = (this.next + 1) % this.capacity;
    this.total++;
    if (this.echo !== null) this.echo(formatEvent(event));
  }

  /** The newest `count` events, oldest first, one per line. */
  tail(count: number): string {
    const n = Math.min(count, this.total, this.capacity);
    const lines: string[] = [];
    for (let k = n; k >= 1; k--) {
      const event = this.events[(this.next - k + this.capacity) % this.capacity];
      if (event !== undefined) lines.push(formatEvent(event));
    }
    return lines.join("\n");
  }

  get length(): number {
    return this.total;
  }
}
