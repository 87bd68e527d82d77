/**
 * Raft messages over gRPC (RaftInternal, proto/raft.proto). Each peer has its own client,
 * its own bounded queue and one long-lived client stream (RaftInternal.Stream): queued
 * messages leave in batches as fast as the stream takes them, in order, so a slow or dead
 * peer holds up nobody else. A call per batch (the unary RPCs, still served for senders
 * that use them) cost about 1.8 ms per round trip on loopback here, a stream write 0.2 ms.
 * A full queue drops the message and reports the peer unreachable, and so does a stream
 * that fails (what it carried may be lost): Raft retransmits on its own (§5.3).
 */
import * as grpc from "@grpc/grpc-js";
import { ErrorCode, MinikvError, toMinikvError } from "../../common/errors.js";
import { fromGrpcError, grpcChannelOptions, loadProto, toGrpcError } from "../../common/grpc.js";
import { limits } from "../../common/limits.js";
import type { Message, NodeId } from "./core/types.js";
import type { ProtoGrpcType } from "../../proto/generated/raft.js";
import type { Ack__Output } from "../../proto/generated/minikv/raft/v1/Ack.js";
import type {
  RaftInternalClient,
  RaftInternalHandlers,
} from "../../proto/generated/minikv/raft/v1/RaftInternal.js";
import type { SnapshotChunk__Output } from "../../proto/generated/minikv/raft/v1/SnapshotChunk.js";
import type { InboundBatch, OutboundBatch } from "./raft-batch-codec.js";
import { decodeBatch, encodeBatch } from "./raft-batch-codec.js";
import { decodeMessage, encodeMessage } from "./raft-message-codec.js";
import type { PeerAddresses, SnapshotSource } from "./storage.js";
import type { Transport, TransportHandler } from "./transport.js";

export interface GrpcTransportConfig {
  readonly localId: NodeId;
  /** The address peers use to reach this node ("host:port"), sent along so they learn it. */
  readonly localAddress: string;
  /** Messages queued to one peer before new ones are dropped. */
  readonly peerQueueDepthMax: number;
  /** Messages per batch (one stream write). */
  readonly batchMessagesMax: number;
  /** Entry bytes per batch (below the gRPC message cap). */
  readonly batchBytesMax: number;
  /** A peer's stream that takes no more bytes for this long is cancelled (peer unreachable). */
  readonly rpcTimeoutMs: number;
  /** Deadline of one whole InstallSnapshot stream. */
  readonly snapshotTimeoutMs: number;
  /** Reconnect backoff bounds: short, so a restarted peer is heard from within an election timeout. */
  readonly reconnectBackoffMsMin: number;
  readonly reconnectBackoffMsMax: number;
}

export const grpcTransportDefaults: Omit<GrpcTransportConfig, "localId" | "localAddress"> = {
  peerQueueDepthMax: 4096,
  batchMessagesMax: 256,
  batchBytesMax: limits.grpcMessageBytesMax / 2,
  rpcTimeoutMs: 2000,
  snapshotTimeoutMs: 10 * 60_000,
  reconnectBackoffMsMin: 50,
  reconnectBackoffMsMax: 500,
};

let cachedProto: ProtoGrpcType | undefined;

function raftProto(): ProtoGrpcType["minikv"]["raft"]["v1"] {
  cachedProto ??= loadProto<ProtoGrpcType>("raft.proto");
  return cachedProto.minikv.raft.v1;
}

/** The RaftInternal methods whose request is a MessageBatch. */
const BATCH_METHODS = ["AppendEntries", "RequestVote", "TimeoutNow", "Send", "Stream"] as const;

/** A RaftInternal client whose batch methods take core Messages (raft-batch-codec.ts). */
interface RaftClient extends grpc.Client {
  Stream(callback: grpc.requestCallback<Ack__Output>): grpc.ClientWritableStream<OutboundBatch>;
  InstallSnapshot: RaftInternalClient["InstallSnapshot"];
  Identify: RaftInternalClient["Identify"];
}

type BatchUnaryHandler = grpc.handleUnaryCall<InboundBatch, Ack__Output>;

/** Server side of RaftService: the batch methods receive decoded batches. */
interface RaftHandlers extends grpc.UntypedServiceImplementation {
  AppendEntries: BatchUnaryHandler;
  RequestVote: BatchUnaryHandler;
  TimeoutNow: BatchUnaryHandler;
  Send: BatchUnaryHandler;
  Stream: grpc.handleClientStreamingCall<InboundBatch, Ack__Output>;
  InstallSnapshot: RaftInternalHandlers["InstallSnapshot"];
  Identify: RaftInternalHandlers["Identify"];
}

interface RaftService {
  readonly definition: grpc.ServiceDefinition;
  readonly Client: grpc.ServiceClientConstructor;
}

let cachedService: RaftService | undefined;

/**
 * RaftInternal as proto/raft.proto defines it, with MessageBatch encoded and decoded by
 * raft-batch-codec.ts instead of proto-loader's object conversion; the other methods as
 * proto-loader builds them.
 */
function raftService(): RaftService {
  if (cachedService !== undefined) return cachedService;
  const base = raftProto().RaftInternal.service as grpc.ServiceDefinition;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- methods of different request types
  const definition: Record<string, grpc.MethodDefinition<any, any>> = { ...base };
  for (const name of BATCH_METHODS) {
    const method = base[name];
    if (method === undefined) throw new Error(`raft.proto has no ${name}`);
    definition[name] = {
      ...method,
      requestSerialize: (batch: OutboundBatch) => encodeBatch(batch),
      requestDeserialize: (bytes: Buffer) => decodeBatch(bytes),
    };
  }
  cachedService = { definition, Client: grpc.makeGenericClientConstructor(definition, "RaftInternal") };
  return cachedService;
}

function messageBytes(message: Message): number {
  let bytes = 64 + message.context.byteLength;
  for (const entry of message.entries) bytes += 32 + entry.data.byteLength;
  return bytes;
}

/** One peer: its client, its queue, and its message stream. */
class PeerChannel {
  readonly queue: Message[] = [];
  /** Open until it fails or the peer is closed; a new one is opened by the next send. */
  stream: grpc.ClientWritableStream<OutboundBatch> | null = null;
  /** The stream's buffer is full: wait for "drain" before writing more. */
  blocked = false;
  closed = false;

  constructor(
    readonly address: string,
    readonly client: RaftClient,
  ) {}
}

export class GrpcTransport implements Transport {
  readonly localId: NodeId;
  private config: GrpcTransportConfig;
  private handler: TransportHandler | null = null;
  private closed = false;
  private readonly peers = new Map<NodeId, PeerChannel>();
  /** Inbound message streams, ended when this transport closes so the server can shut down. */
  private readonly inbound = new Set<(err: MinikvError) => void>();

  constructor(config: Pick<GrpcTransportConfig, "localId" | "localAddress"> & Partial<GrpcTransportConfig>) {
    this.config = { ...grpcTransportDefaults, ...config };
    this.localId = config.localId;
  }

  /** Sets the address peers use to reach this node (known once the server is bound). */
  setLocalAddress(address: string): void {
    this.config = { ...this.config, localAddress: address };
  }

  /** Adds the RaftInternal service to a gRPC server the caller binds, starts and shuts down. */
  addTo(server: grpc.Server): void {
    server.addService(raftService().definition, this.serviceHandlers());
  }

  start(handler: TransportHandler): Promise<void> {
    this.handler = handler;
    return Promise.resolve();
  }

  send(message: Message): void {
    if (this.closed) return;
    const peer = this.peers.get(message.to);
    if (peer === undefined || peer.queue.length >= this.config.peerQueueDepthMax) {
      this.reportUnreachable(message.to);
      return;
    }
    peer.queue.push(message);
    this.pump(message.to, peer);
  }

  private reportUnreachable(id: NodeId): void {
    // Never re-enter the caller (the driver's loop) synchronously.
    queueMicrotask(() => {
      if (!this.closed) this.handler?.onUnreachable(id);
    });
  }

  /** Takes the longest run of queued messages within the batch bounds. */
  private takeBatch(peer: PeerChannel): Message[] {
    let count = 0;
    let bytes = 0;
    for (const message of peer.queue) {
      bytes += messageBytes(message);
      if (count >= this.config.batchMessagesMax || (count > 0 && bytes > this.config.batchBytesMax)) break;
      count += 1;
    }
    return peer.queue.splice(0, count);
  }

  /** Writes what is queued for `id` to its stream, while the stream takes it. */
  private pump(id: NodeId, peer: PeerChannel): void {
    while (!peer.closed && !this.closed && !peer.blocked && peer.queue.length > 0) {
      const stream = peer.stream ?? this.openStream(id, peer);
      const messages = this.takeBatch(peer);
      const taken = stream.write({ messages, fromAddress: this.config.localAddress });
      if (!taken) this.waitForDrain(id, peer, stream);
    }
  }

  private openStream(id: NodeId, peer: PeerChannel): grpc.ClientWritableStream<OutboundBatch> {
    const stream = peer.client.Stream((err) => {
      // The stream ended: the peer failed it, the connection broke, or it was cancelled
      // here. What is still queued leaves on a new stream with the next send, not at once
      // (a peer that is down would fail every new stream immediately).
      if (peer.stream === stream) {
        peer.stream = null;
        peer.blocked = false;
      }
      if (err !== null && !peer.closed && !this.closed) this.reportUnreachable(id);
    });
    peer.stream = stream;
    return stream;
  }

  private waitForDrain(
    id: NodeId,
    peer: PeerChannel,
    stream: grpc.ClientWritableStream<OutboundBatch>,
  ): void {
    peer.blocked = true;
    // A peer that stops reading (hung, or cut off without a reset) must not hold its queue forever.
    const timer = setTimeout(() => stream.cancel(), this.config.rpcTimeoutMs);
    // The stream lives as long as the connection and fills up many times: whichever of the
    // two listeners fires removes the other, so none pile up on it.
    const onClose = (): void => {
      clearTimeout(timer);
      stream.off("drain", onDrain);
    };
    const onDrain = (): void => {
      clearTimeout(timer);
      stream.off("close", onClose);
      if (peer.stream !== stream) return;
      peer.blocked = false;
      this.pump(id, peer);
    };
    stream.once("drain", onDrain);
    stream.once("close", onClose);
  }

  async sendSnapshot(message: Message, source: SnapshotSource): Promise<void> {
    try {
      const peer = this.peers.get(message.to);
      if (peer === undefined || this.closed) {
        throw new MinikvError(ErrorCode.UNAVAILABLE, `no address for ${message.to}`);
      }
      await this.streamSnapshot(peer.client, message, source);
    } finally {
      await source.close();
    }
  }

  private async streamSnapshot(client: RaftClient, message: Message, source: SnapshotSource): Promise<void> {
    let settle: ((err: grpc.ServiceError | null) => void) | undefined;
    const acked = new Promise<void>((resolve, reject) => {
      settle = (err) => (err === null ? resolve() : reject(fromGrpcError(err)));
    });
    // The receiver may answer (with an error) before the stream ends: writes stop then.
    const ended = acked.then(
      () => Promise.reject(new MinikvError(ErrorCode.UNAVAILABLE, "snapshot stream ended early")),
      (err: unknown) => Promise.reject(toMinikvError(err)),
    );
    ended.catch(() => undefined);
    const call = client.InstallSnapshot({ deadline: Date.now() + this.config.snapshotTimeoutMs }, (err) =>
      settle?.(err),
    );
    const write = (chunk: Parameters<typeof call.write>[0]): Promise<void> =>
      call.write(chunk)
        ? Promise.resolve()
        : Promise.race([new Promise<void>((r) => call.once("drain", r)), ended]);
    try {
      await write({
        header: { message: encodeMessage(message), peer_addresses: { ...source.info.peerAddresses } },
      });
      for await (const data of source.chunks()) await write({ data });
      call.end();
    } catch (err) {
      call.cancel();
      await acked.catch(() => undefined);
      throw toMinikvError(err);
    }
    await acked;
  }

  /** Asks the node at `address` for its id (for `--peers HOST:PORT` without an id). */
  identify(address: string, timeoutMs: number): Promise<NodeId> {
    const client = this.newClient(address);
    return new Promise<NodeId>((resolve, reject) => {
      client.Identify({ from_id: this.localId }, { deadline: Date.now() + timeoutMs }, (err, reply) => {
        client.close();
        if (err !== null || reply === undefined) reject(fromGrpcError(err));
        else if (reply.node_id.length === 0)
          reject(new MinikvError(ErrorCode.UNAVAILABLE, `${address} has no id`));
        else resolve(reply.node_id);
      });
    });
  }

  private newClient(address: string): RaftClient {
    const client = new (raftService().Client)(address, grpc.credentials.createInsecure(), {
      ...grpcChannelOptions,
      "grpc.initial_reconnect_backoff_ms": this.config.reconnectBackoffMsMin,
      "grpc.min_reconnect_backoff_ms": this.config.reconnectBackoffMsMin,
      "grpc.max_reconnect_backoff_ms": this.config.reconnectBackoffMsMax,
    });
    return client as unknown as RaftClient;
  }

  setPeer(id: NodeId, address: string): void {
    if (id === this.localId || this.closed) return;
    const existing = this.peers.get(id);
    if (existing?.address === address) return;
    if (existing !== undefined) this.closePeer(existing);
    this.peers.set(id, new PeerChannel(address, this.newClient(address)));
  }

  removePeer(id: NodeId): void {
    const peer = this.peers.get(id);
    if (peer === undefined) return;
    this.peers.delete(id);
    this.closePeer(peer);
  }

  private closePeer(peer: PeerChannel): void {
    peer.closed = true;
    peer.queue.length = 0;
    peer.stream?.cancel();
    peer.stream = null;
    peer.client.close();
  }

  peerAddresses(): PeerAddresses {
    return Object.fromEntries([...this.peers].map(([id, peer]) => [id, peer.address]));
  }

  close(): Promise<void> {
    this.closed = true;
    for (const peer of this.peers.values()) this.closePeer(peer);
    this.peers.clear();
    const closing = new MinikvError(ErrorCode.UNAVAILABLE, "raft transport is closing");
    for (const end of [...this.inbound]) end(closing);
    return Promise.resolve();
  }

  private receive(batch: InboundBatch): void {
    const handler = this.handler;
    if (handler === null || this.closed)
      throw new MinikvError(ErrorCode.UNAVAILABLE, "raft is not serving yet");
    if (!batch.ok) throw batch.error;
    const messages = batch.messages;
    for (const message of messages) {
      if (message.to !== this.localId) {
        throw new MinikvError(
          ErrorCode.INVALID_ARGUMENT,
          `message for ${message.to} reached ${this.localId}`,
        );
      }
      if (message.type === "snapshot")
        throw new MinikvError(ErrorCode.INVALID_ARGUMENT, "snapshot outside InstallSnapshot");
    }
    const sender = messages[0]?.from;
    if (sender !== undefined && batch.fromAddress.length > 0 && !this.peers.has(sender)) {
      this.setPeer(sender, batch.fromAddress);
    }
    for (const message of messages) handler.onMessage(message);
  }

  private async receiveSnapshot(
    call: grpc.ServerReadableStream<SnapshotChunk__Output, Ack__Output>,
  ): Promise<void> {
    const handler = this.handler;
    if (handler === null || this.closed)
      throw new MinikvError(ErrorCode.UNAVAILABLE, "raft is not serving yet");
    const iterator = (call as AsyncIterable<SnapshotChunk__Output>)[Symbol.asyncIterator]();
    const first = await iterator.next();
    const header = first.done === true ? undefined : first.value.header;
    if (header === undefined || header === null || header.message === null) {
      throw new MinikvError(ErrorCode.INVALID_ARGUMENT, "InstallSnapshot must start with a header");
    }
    const message = decodeMessage(header.message);
    if (message.type !== "snapshot" || message.snapshot === null || message.to !== this.localId) {
      throw new MinikvError(
        ErrorCode.INVALID_ARGUMENT,
        "InstallSnapshot header is not a snapshot message for this node",
      );
    }
    async function* data(): AsyncIterable<Uint8Array> {
      for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) {
        const chunk = next.value;
        if (chunk.data === undefined)
          throw new MinikvError(ErrorCode.INVALID_ARGUMENT, "second snapshot header");
        yield chunk.data;
      }
    }
    await handler.onSnapshot(message, { ...header.peer_addresses }, data());
  }

  /** One peer's message stream: each batch is delivered as it arrives; a bad one ends the stream. */
  private receiveStream(
    call: grpc.ServerReadableStream<InboundBatch, Ack__Output>,
    callback: grpc.sendUnaryData<Ack__Output>,
  ): void {
    let ended = false;
    const end = (err: MinikvError | null): void => {
      if (ended) return;
      ended = true;
      this.inbound.delete(end);
      if (err === null) callback(null, {});
      else callback(toGrpcError(err));
    };
    if (this.closed) {
      end(new MinikvError(ErrorCode.UNAVAILABLE, "raft transport is closed"));
      return;
    }
    this.inbound.add(end);
    call.on("data", (batch: InboundBatch) => {
      if (ended) return;
      try {
        this.receive(batch);
      } catch (err) {
        end(toMinikvError(err));
      }
    });
    call.on("end", () => end(null));
    call.on("error", () => end(new MinikvError(ErrorCode.UNAVAILABLE, "raft message stream failed")));
    call.on("cancelled", () => end(new MinikvError(ErrorCode.UNAVAILABLE, "raft message stream cancelled")));
  }

  private serviceHandlers(): RaftHandlers {
    const unary = (
      call: grpc.ServerUnaryCall<InboundBatch, Ack__Output>,
      callback: grpc.sendUnaryData<Ack__Output>,
    ): void => {
      try {
        this.receive(call.request);
        callback(null, {});
      } catch (err) {
        callback(toGrpcError(err));
      }
    };
    return {
      AppendEntries: unary,
      RequestVote: unary,
      TimeoutNow: unary,
      Send: unary,
      Stream: (call, callback) => this.receiveStream(call, callback),
      InstallSnapshot: (call, callback) => {
        this.receiveSnapshot(call).then(
          () => callback(null, {}),
          (err: unknown) => callback(toGrpcError(err)),
        );
      },
      Identify: (_call, callback) => callback(null, { node_id: this.localId }),
    };
  }
}

/** Starts a gRPC server on `bind` ("host:port", port 0 for any) with the given services; resolves with the port. */
export function startGrpcServer(
  bind: string,
  register: (server: grpc.Server) => void,
): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server(grpcChannelOptions);
  register(server);
  return new Promise((resolve, reject) => {
    server.bindAsync(bind, grpc.ServerCredentials.createInsecure(), (err, port) => {
      if (err !== null) reject(toMinikvError(err, ErrorCode.UNAVAILABLE));
      else resolve({ server, port });
    });
  });
}

/** Shuts a server down, forcing it after `graceMs`. */
export function stopGrpcServer(server: grpc.Server, graceMs = 1000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
