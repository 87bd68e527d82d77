/**
 * The in-memory twin of GrpcTransport: nodes of one MemoryNetwork exchange messages
 * asynchronously, in order per link, copied (no shared buffers), with per-peer bounded
 * queues and links that tests can cut and heal.
 */
import { ErrorCode, MinikvError } from "../../common/errors.js";
import type { Message, NodeId } from "./core/types.js";
import type { PeerAddresses, SnapshotSource } from "./storage.js";
import type { Transport, TransportHandler } from "./transport.js";

export interface MemoryTransportConfig {
  /** Messages queued to one peer before new ones are dropped. */
  readonly peerQueueDepthMax: number;
}

export const memoryTransportDefaults: MemoryTransportConfig = { peerQueueDepthMax: 4096 };

/** A set of in-memory transports that can reach each other unless a link is cut. */
export class MemoryNetwork {
  private readonly nodes = new Map<NodeId, MemoryTransport>();
  private readonly cutLinks = new Set<string>();

  /** Creates the transport of node `id` on this network. */
  transport(id: NodeId, config: MemoryTransportConfig = memoryTransportDefaults): MemoryTransport {
    const transport = new MemoryTransport(this, id, config);
    this.nodes.set(id, transport);
    return transport;
  }

  /** Cuts both directions between a and b. */
  cut(a: NodeId, b: NodeId): void {
    this.cutLinks.add(`${a}>${b}`);
    this.cutLinks.add(`${b}>${a}`);
  }

  /** Cuts every link of `id`. */
  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) if (other !== id) this.cut(id, other);
  }

  heal(): void {
    this.cutLinks.clear();
  }

  /** The started, open transport of `to` if `from` can reach it. */
  reachable(from: NodeId, to: NodeId): MemoryTransport | undefined {
    if (this.cutLinks.has(`${from}>${to}`)) return undefined;
    const target = this.nodes.get(to);
    return target?.isServing() === true ? target : undefined;
  }

  detach(transport: MemoryTransport): void {
    if (this.nodes.get(transport.localId) === transport) this.nodes.delete(transport.localId);
  }
}

export class MemoryTransport implements Transport {
  private handler: TransportHandler | null = null;
  private closed = false;
  private readonly addresses = new Map<NodeId, string>();
  private readonly queues = new Map<NodeId, Message[]>();

  constructor(
    private readonly network: MemoryNetwork,
    readonly localId: NodeId,
    private readonly config: MemoryTransportConfig,
  ) {}

  start(handler: TransportHandler): Promise<void> {
    this.handler = handler;
    return Promise.resolve();
  }

  isServing(): boolean {
    return this.handler !== null && !this.closed;
  }

  deliver(message: Message): void {
    if (message.type !== "snapshot") this.handler?.onMessage(message);
  }

  receiveSnapshot(
    message: Message,
    addresses: PeerAddresses,
    chunks: AsyncIterable<Uint8Array>,
  ): Promise<void> {
    if (this.handler === null || this.closed) {
      return Promise.reject(new MinikvError(ErrorCode.UNAVAILABLE, `${this.localId} is down`));
    }
    return this.handler.onSnapshot(message, addresses, chunks);
  }

  send(message: Message): void {
    if (this.closed) return;
    const queue = this.queues.get(message.to) ?? [];
    if (queue.length >= this.config.peerQueueDepthMax) {
      this.reportUnreachable(message.to);
      return;
    }
    queue.push(structuredClone(message));
    this.queues.set(message.to, queue);
    if (queue.length === 1) setImmediate(() => this.flush(message.to));
  }

  private flush(to: NodeId): void {
    const queue = this.queues.get(to) ?? [];
    this.queues.delete(to);
    if (this.closed) return;
    const target = this.network.reachable(this.localId, to);
    if (target === undefined) {
      if (queue.length > 0) this.reportUnreachable(to);
      return;
    }
    for (const message of queue) target.deliver(message);
  }

  private reportUnreachable(id: NodeId): void {
    setImmediate(() => {
      if (!this.closed) this.handler?.onUnreachable(id);
    });
  }

  async sendSnapshot(message: Message, source: SnapshotSource): Promise<void> {
    const target = this.network.reachable(this.localId, message.to);
    if (target === undefined || this.closed) {
      throw new MinikvError(ErrorCode.UNAVAILABLE, `${message.to} is unreachable`);
    }
    async function* copy(): AsyncIterable<Uint8Array> {
      for await (const chunk of source.chunks()) yield Uint8Array.from(chunk);
    }
    try {
      await target.receiveSnapshot(structuredClone(message), { ...source.info.peerAddresses }, copy());
    } finally {
      await source.close();
    }
  }

  setPeer(id: NodeId, address: string): void {
    if (id !== this.localId) this.addresses.set(id, address);
  }

  removePeer(id: NodeId): void {
    this.addresses.delete(id);
  }

  peerAddresses(): PeerAddresses {
    return Object.fromEntries(this.addresses);
  }

  close(): Promise<void> {
    this.closed = true;
    this.queues.clear();
    this.network.detach(this);
    return Promise.resolve();
  }
}
