/**
 * The transport seam (cf. hashicorp/raft `Transport`): moves the core's messages between
 * nodes, and snapshot bytes beside the InstallSnapshot message that names them (§7).
 */
import type { Message, NodeId } from "./core/types.js";
import type { PeerAddresses, SnapshotSource } from "./storage.js";

/** What a transport delivers to its node. Handlers must not throw. */
export interface TransportHandler {
  /** An inbound message (any type but "snapshot"). */
  onMessage(message: Message): void;
  /**
   * An inbound InstallSnapshot: the receiver stores the bytes durably, then steps the
   * message into its core. The transport reports success to the sender only after this
   * resolves; a rejection is reported as a failed snapshot.
   */
  onSnapshot(
    message: Message,
    peerAddresses: PeerAddresses,
    chunks: AsyncIterable<Uint8Array>,
  ): Promise<void>;
  /** A message to `id` was dropped (peer down or its queue full): cf. RawNode.reportUnreachable. */
  onUnreachable(id: NodeId): void;
}

/**
 * Sends messages to peers by node id. Messages to one peer leave in the order sent, over one
 * channel; a slow or dead peer never delays the others (each peer has its own bounded
 * queue: when it is full, the message is dropped and onUnreachable is called; Raft retries).
 */
export interface Transport {
  readonly localId: NodeId;
  /** Starts accepting inbound messages. */
  start(handler: TransportHandler): Promise<void>;
  /** Queues a message to message.to; never blocks. Unknown peers count as unreachable. */
  send(message: Message): void;
  /**
   * Streams a snapshot's bytes with its message ("snapshot" type) and resolves once the
   * receiver has stored them; rejects (UNAVAILABLE, TIMEOUT, ...) otherwise.
   */
  sendSnapshot(message: Message, source: SnapshotSource): Promise<void>;
  /** Adds or updates a peer's address. */
  setPeer(id: NodeId, address: string): void;
  removePeer(id: NodeId): void;
  /** Known peers (not including this node). */
  peerAddresses(): PeerAddresses;
  /** Stops sending and receiving; pending messages are dropped. */
  close(): Promise<void>;
}
