/**
 * ReadIndex bookkeeping on the leader (dissertation §6.4): each read request remembers the
 * commit index at arrival and waits for a quorum of heartbeat acknowledgements carrying its
 * context (or a later one: heartbeats confirm every request queued before them).
 */
import type { NodeId } from "./types.js";

export interface ReadRequest {
  /** Commit index when the request arrived: the read may be served once applied ≥ index. */
  readonly index: number;
  readonly context: Uint8Array;
  /** Who asked: this node (answer through Ready.readStates) or a follower (readIndexResp). */
  readonly from: NodeId;
}

interface PendingRead {
  readonly request: ReadRequest;
  readonly acks: Set<NodeId>;
}

export function contextKey(context: Uint8Array): string {
  let key = "";
  for (const byte of context) key += byte.toString(16).padStart(2, "0");
  return key;
}

export class ReadOnlyQueue {
  private readonly pending = new Map<string, PendingRead>();
  private readonly order: string[] = [];

  get size(): number {
    return this.order.length;
  }

  /** Queues a request; a duplicate context is ignored (contexts must be unique). */
  add(request: ReadRequest): boolean {
    const key = contextKey(request.context);
    if (this.pending.has(key)) return false;
    this.pending.set(key, { request, acks: new Set() });
    this.order.push(key);
    return true;
  }

  /** Records `from`'s acknowledgement of `context`; returns the ackers so far, or null. */
  recvAck(from: NodeId, context: Uint8Array): ReadonlySet<NodeId> | null {
    const read = this.pending.get(contextKey(context));
    if (read === undefined) return null;
    read.acks.add(from);
    return read.acks;
  }

  /** Removes and returns every request up to and including the one for `context`, oldest first. */
  release(context: Uint8Array): ReadRequest[] {
    const position = this.order.indexOf(contextKey(context));
    if (position < 0) return [];
    const keys = this.order.splice(0, position + 1);
    const out: ReadRequest[] = [];
    for (const key of keys) {
      const read = this.pending.get(key);
      this.pending.delete(key);
      if (read !== undefined) out.push(read.request);
    }
    return out;
  }

  /** Context of the newest pending request, carried by every heartbeat so lost rounds retry. */
  lastContext(): Uint8Array {
    const key = this.order.at(-1);
    return key === undefined
      ? new Uint8Array(0)
      : (this.pending.get(key)?.request.context ?? new Uint8Array(0));
  }

  clear(): void {
    this.pending.clear();
    this.order.length = 0;
  }
}
