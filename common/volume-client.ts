import { join } from "node:path";
import { Readable } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import protobuf from "protobufjs";
import type { ProtoGrpcType } from "../proto/generated/volume.js";
import type { VolumeClient as GrpcVolumeClient } from "../proto/generated/minikv/volume/v1/Volume.js";
import type { KeyEntry__Output } from "../proto/generated/minikv/volume/v1/KeyEntry.js";
import type { PipeRequests } from "../proto/generated/minikv/volume/v1/PipeRequests.js";
import type { PrepareRequest } from "../proto/generated/minikv/volume/v1/PrepareRequest.js";
import type { PrepareHeader } from "../proto/generated/minikv/volume/v1/PrepareHeader.js";
import type { StatReply__Output } from "../proto/generated/minikv/volume/v1/StatReply.js";
import type { ChecksumReply__Output } from "../proto/generated/minikv/volume/v1/ChecksumReply.js";
import type { CompactReply__Output } from "../proto/generated/minikv/volume/v1/CompactReply.js";
import type { HealthReply__Output } from "../proto/generated/minikv/volume/v1/HealthReply.js";
import { ErrorCode, MinikvError, isMinikvError } from "./errors.js";
import { fromGrpcError, grpcChannelOptions, loadProto, protoDir } from "./grpc.js";
import { framedBuffer, framedBytesMessage, useSharedFrames } from "./grpc-framing.js";
import { limits } from "./limits.js";
import { VolumePipe, type PipeCallRequest } from "./volume-pipe.js";

/** What a prepare announces before its bytes (proto PrepareHeader). */
export interface VolumePrepareHeader {
  readonly txid: string;
  readonly key: string;
  /** Exact value length in bytes (ignored with `sizeUnknown`). */
  readonly size: number;
  /** CRC32C (Castagnoli) of the whole value (ignored with `crc32cUnknown`). */
  readonly crc32c: number;
  readonly contentType?: string;
  /** The sender learns the CRC32C only at the end: the volume computes it and returns it. */
  readonly crc32cUnknown?: boolean;
  /** The sender does not know the length either: the value is whatever the stream carries. */
  readonly sizeUnknown?: boolean;
}

/** A prepare's "yes" vote: the volume fsynced the value; its length and CRC32C as stored. */
export interface VolumePrepareVote {
  readonly txid: string;
  readonly volumeId: string;
  readonly size: number;
  readonly crc32c: number;
}

/** A value as a volume reports it (Stat and ListKeys). */
export interface VolumeKeyInfo {
  readonly key: string;
  readonly size: number;
  readonly crc32c: number;
  /** Metadata version; 0 while prepared. */
  readonly version: number;
  readonly contentType: string;
  readonly createdAtMs: number;
  readonly prepared: boolean;
  readonly txid: string;
}

export interface VolumeChecksum {
  readonly key: string;
  readonly size: number;
  readonly version: number;
  /** Computed by the volume over the stored bytes just now. */
  readonly crc32c: number;
  /** What the record says; differs from `crc32c` only when the data is corrupt. */
  readonly recordedCrc32c: number;
}

export interface VolumeHealth {
  readonly volumeId: string;
  readonly state: string;
  readonly capacityBytes: number;
  readonly usedBytes: number;
  readonly keys: number;
}

export interface VolumeClientOptions {
  /** Deadline of each unary call (commit, abort, stat, ...). Default 10 s. */
  readonly unaryDeadlineMs?: number;
  /**
   * Deadline of a whole Prepare or Read stream. Default none: a multi-GiB stream may take
   * long, and a dead peer is still caught by the channel's keepalive.
   */
  readonly streamDeadlineMs?: number;
}

/** Per-call options: an explicit deadline and/or a signal that cancels the call. */
export interface VolumeCallOptions {
  readonly deadlineMs?: number;
  readonly signal?: AbortSignal;
}

export interface VolumeReadOptions extends VolumeCallOptions {
  readonly offset?: number;
  /** Bytes to read; undefined means to the end of the value. */
  readonly length?: number;
  /** When set, the read fails with KEY_NOT_FOUND unless exactly this version is stored. */
  readonly version?: number;
}

const UNARY_DEADLINE_MS_DEFAULT = 10_000;
/** A whole-value prepare on the pipe has a deadline (a streamed one relies on keepalive). */
const PIPE_PREPARE_DEADLINE_MS_DEFAULT = 30_000;
/**
 * Values up to this size are prepared, and ranges up to it read, in one pipe message (the
 * volume refuses a longer pipe read).
 */
export const PIPE_VALUE_BYTES_MAX = limits.streamChunkBytes;
/**
 * HTTP/2 receive window of the client's connection. The 64 KiB default stalls streamed
 * reads on every round trip; 1 MiB keeps a few chunks in flight and still bounds memory.
 */
const RECEIVE_WINDOW_BYTES = 1024 * 1024;

/**
 * The bytes of a call's messages grpc-js keeps for a transparent retry (its default: 1 MB).
 * A message that fits is called back as soon as it is queued, before it is sent; one that
 * does not commits the call (no retry from then on) and is called back once HTTP/2 has
 * written it. Smaller than a full Prepare chunk, so that a chunk's write callback means its
 * frame may be reused (sharedChunk); a call's header still has its transparent retry. With
 * the default, frames were filled again before they were sent, and the volumes' votes
 * caught it (CHECKSUM_MISMATCH in the 64 MiB round trips of the tests).
 */
const RETRY_BUFFER_BYTES = 64 * 1024;

let volumeProto: ProtoGrpcType | undefined;

function loadVolumeProto(): ProtoGrpcType {
  volumeProto ??= loadProto<ProtoGrpcType>("volume.proto");
  return volumeProto;
}

type VolumeClientConstructor = new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options: grpc.ChannelOptions,
) => GrpcVolumeClient;

let volumeClientConstructor: VolumeClientConstructor | undefined;

/** Chunks built by sharedChunk, each with its PrepareRequest encoding (weakly held). */
const sharedEncodings = new WeakMap<Uint8Array, Buffer>();

/** Field `chunk` of PrepareRequest. */
const CHUNK_FIELD_NUMBER = 2;

/**
 * Full chunks (limits.streamChunkBytes) whose every Prepare write has been sent, kept to
 * carry the next ones: see sharedChunk. At most CHUNK_FRAMES_KEPT (16 MiB).
 */
const freeChunks: Buffer[] = [];
const CHUNK_FRAMES_KEPT = 64;
/** Writes of a reusable chunk not yet sent (weakly held: a write never sent keeps it out). */
const unsentWrites = new WeakMap<Uint8Array, number>();

/**
 * Joins `pieces` (`size` bytes in all) into one Prepare chunk, built inside its own
 * PrepareRequest encoding, itself inside its gRPC frame (grpc-framing.ts): the returned chunk
 * is a view of the encoded message, and every Prepare call it is written to sends that frame
 * as it is. The bytes are copied once, instead of once to join them and twice more per
 * volume, to encode and to frame them. The caller must not change the chunk afterwards.
 *
 * The chunk will be written to `writers` Prepare calls, and its frame is reused: once the
 * last of those writes has been sent (VolumeClient.prepare calls chunkSent
 * from each write's callback), a full chunk (limits.streamChunkBytes) goes back to be
 * filled with a later one. An upload's frames live until the slowest volume has taken them,
 * long enough to outlive young-generation collections, so a frame used once dies in the old
 * generation and only a major collection frees its 256 KiB (common/stream-memory.ts). A
 * chunk some write of which is never sent (a call cancelled first) is not reused. `reused`
 * tells whether the frame had carried an earlier chunk.
 */
export function sharedChunk(
  pieces: readonly Uint8Array[],
  size: number,
  writers: number,
): { chunk: Uint8Array; reused: boolean } {
  if (size !== limits.streamChunkBytes) return { chunk: encodedChunk(pieces, size), reused: false };
  const reused = freeChunks.pop();
  if (reused !== undefined) fill(reused, pieces);
  const chunk = reused ?? encodedChunk(pieces, size);
  unsentWrites.set(chunk, writers);
  return { chunk, reused: reused !== undefined };
}

function encodedChunk(pieces: readonly Uint8Array[], size: number): Buffer {
  const { message, field } = framedBytesMessage(CHUNK_FIELD_NUMBER, pieces, size);
  sharedEncodings.set(field, message);
  return field;
}

function fill(chunk: Buffer, pieces: readonly Uint8Array[]): void {
  let at = 0;
  for (const piece of pieces) {
    chunk.set(piece, at);
    at += piece.length;
  }
  if (at !== chunk.length) throw new RangeError(`pieces of ${at} bytes, not ${chunk.length}`);
}

/**
 * One write of `chunk` to a Prepare call has been sent: grpc-js called the write back after
 * HTTP/2 finished writing the frame to the socket (which holds only because a chunk is
 * larger than the call's retry buffer, RETRY_BUFFER_BYTES: a message that fits it is called
 * back before it is sent). A no-op for any other chunk.
 */
export function chunkSent(chunk: Uint8Array): void {
  const left = unsentWrites.get(chunk);
  if (left === undefined) return;
  if (left > 1) {
    unsentWrites.set(chunk, left - 1);
    return;
  }
  unsentWrites.delete(chunk);
  if (freeChunks.length < CHUNK_FRAMES_KEPT) freeChunks.push(chunk as Buffer);
}

/** A protobufjs writer whose finish() returns the message inside its gRPC frame (framedBuffer). */
class FramedWriter extends protobuf.BufferWriter {
  static override alloc(size: number): Buffer {
    return framedBuffer(size);
  }
}

/**
 * The encoder of the Pipe call's request batches, the messages a coordinator sends most:
 * protobufjs encodes the batch (built by VolumePipe with the field types of the schema, so
 * without proto-loader's conversion by fromObject) straight into its gRPC frame, which
 * grpc-js then sends as it is (useSharedFrames) instead of copying the batch, with every
 * value in it, into a new frame.
 */
export function pipeRequestsSerializer(): (message: PipeRequests) => Buffer {
  const root = new protobuf.Root().loadSync(join(protoDir(), "volume.proto"), { keepCase: true });
  const type = root.lookupType("minikv.volume.v1.PipeRequests");
  return (message) => type.encode(message, new FramedWriter()).finish() as Buffer;
}

/** The Volume client class, whose Prepare encoding reuses those of sharedChunk. */
function clientConstructor(): VolumeClientConstructor {
  if (volumeClientConstructor !== undefined) return volumeClientConstructor;
  useSharedFrames();
  const { Volume } = loadVolumeProto().minikv.volume.v1;
  const prepare = Volume.service.Prepare;
  const requestSerialize = (message: PrepareRequest): Buffer => {
    const chunk = message.chunk;
    const encoded = chunk instanceof Uint8Array ? sharedEncodings.get(chunk) : undefined;
    return encoded ?? prepare.requestSerialize(message);
  };
  const service = {
    ...Volume.service,
    Prepare: { ...prepare, requestSerialize },
    Pipe: { ...Volume.service.Pipe, requestSerialize: pipeRequestsSerializer() },
  };
  volumeClientConstructor = grpc.makeGenericClientConstructor(
    service,
    "Volume",
  ) as unknown as VolumeClientConstructor;
  return volumeClientConstructor;
}

type UnaryStart<T> = (
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: grpc.requestCallback<T>,
) => grpc.ClientUnaryCall;

/**
 * A typed promise/stream client for one volume's gRPC `Volume` service. Every failure
 * rejects (or destroys the stream) with a MinikvError carrying the volume's stable code;
 * transport failures become UNAVAILABLE or TIMEOUT. Buffers yielded by reads belong to the
 * caller. One client holds one channel: reuse it, and close() it when done.
 */
export class VolumeClient {
  readonly address: string;
  private readonly client: GrpcVolumeClient;
  private readonly unaryDeadlineMs: number;
  private readonly streamDeadlineMs: number | undefined;
  private readonly pipe: VolumePipe;

  constructor(address: string, options: VolumeClientOptions = {}) {
    const Volume = clientConstructor();
    this.address = address;
    this.client = new Volume(address, grpc.credentials.createInsecure(), {
      ...grpcChannelOptions,
      "grpc-node.flow_control_window": RECEIVE_WINDOW_BYTES,
      "grpc.per_rpc_retry_buffer_size": RETRY_BUFFER_BYTES,
    });
    this.unaryDeadlineMs = options.unaryDeadlineMs ?? UNARY_DEADLINE_MS_DEFAULT;
    this.streamDeadlineMs = options.streamDeadlineMs;
    this.pipe = new VolumePipe(this.client, address);
  }

  /**
   * Phase one of a write: sends the header, then `body` in chunks of at most
   * limits.streamChunkBytes, waiting whenever the stream is full (backpressure reaches the
   * body's producer). Resolves with the volume's "yes" vote once the volume has fsynced the
   * bytes and checked size and CRC32C. If `body` throws, the call is cancelled and the
   * promise rejects with CLIENT_ABORTED: the volume keeps nothing visible.
   */
  async prepare(
    header: VolumePrepareHeader,
    body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    options: VolumeCallOptions = {},
  ): Promise<VolumePrepareVote> {
    if (Array.isArray(body)) {
      const chunks = body as readonly Uint8Array[];
      const size = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
      if (size <= PIPE_VALUE_BYTES_MAX) return this.prepareWhole(header, chunks, size, options);
    }
    let call: grpc.ClientWritableStream<PrepareRequest> | undefined;
    const reply = new Promise<VolumePrepareVote>((resolve, reject) => {
      call = this.client.Prepare(
        new grpc.Metadata(),
        this.callOptions(options, this.streamDeadlineMs),
        (err, value) => {
          if (err !== null || value === undefined) reject(fromGrpcError(err));
          else
            resolve({
              txid: value.txid,
              volumeId: value.volume_id,
              size: Number(value.size),
              crc32c: value.crc32c >>> 0,
            });
        },
      );
    });
    if (call === undefined) throw new Error("grpc-js did not start the Prepare call");
    let settled = false;
    const done = reply.then(
      () => (settled = true),
      () => (settled = true),
    );
    const cancel = (): void => call?.cancel();
    options.signal?.addEventListener("abort", cancel, { once: true });
    try {
      await sendPrepare(call, header, body, () => settled, done);
      return await reply;
    } finally {
      options.signal?.removeEventListener("abort", cancel);
    }
  }

  /** A prepare whose whole value fits in one pipe message. */
  private async prepareWhole(
    header: VolumePrepareHeader,
    chunks: readonly Uint8Array[],
    size: number,
    options: VolumeCallOptions,
  ): Promise<VolumePrepareVote> {
    const value = chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks, size);
    const reply = await this.onPipe(
      { prepare: { header: headerMessage(header), value } },
      options,
      options.deadlineMs ?? this.streamDeadlineMs ?? PIPE_PREPARE_DEADLINE_MS_DEFAULT,
    );
    const vote = reply.prepare;
    if (vote === null || vote === undefined) throw unexpectedReply("prepare");
    return {
      txid: vote.txid,
      volumeId: vote.volume_id,
      size: Number(vote.size),
      crc32c: vote.crc32c >>> 0,
    };
  }

  /** Makes a prepared record readable at `version`. Idempotent. TX_NOT_FOUND when unknown. */
  async commit(txid: string, version: number, options: VolumeCallOptions = {}): Promise<void> {
    await this.onPipe({ commit: { txid, version } }, options);
  }

  /** Frees a prepared record. Idempotent; aborting an unknown txid succeeds. */
  async abort(txid: string, options: VolumeCallOptions = {}): Promise<void> {
    await this.onPipe({ abort: { txid } }, options);
  }

  /** Tombstones every version of `key` not newer than `version`; resolves whether one existed. */
  async delete(key: string, version: number, options: VolumeCallOptions = {}): Promise<boolean> {
    const reply = await this.onPipe({ delete: { key, version } }, options);
    if (reply.delete === null || reply.delete === undefined) throw unexpectedReply("delete");
    return reply.delete.existed;
  }

  /**
   * Bytes [offset, offset + length) of a committed value in one answer, CRC-checked by the
   * volume; `length` is 1 to PIPE_VALUE_BYTES_MAX (use read() for more). Fails like read().
   */
  async readRange(
    key: string,
    options: VolumeCallOptions & { offset: number; length: number; version?: number },
  ): Promise<Buffer> {
    const request = { key, offset: options.offset, length: options.length, version: options.version ?? 0 };
    const reply = await this.onPipe({ read: request }, options);
    if (reply.read === null || reply.read === undefined) throw unexpectedReply("read");
    return reply.read.chunk;
  }

  /**
   * Streams a committed value (or a byte range) as a byte Readable with backpressure: the
   * gRPC stream is paused while the consumer is behind. The stream is destroyed with a
   * MinikvError (KEY_NOT_FOUND, RANGE_NOT_SATISFIABLE, DATA_CORRUPT, ...) on failure;
   * destroying it cancels the call.
   */
  read(key: string, options: VolumeReadOptions = {}): Readable {
    const request = {
      key,
      offset: options.offset ?? 0,
      length: options.length ?? 0,
      version: options.version ?? 0,
    };
    const call = this.client.Read(request, this.callOptions(options, this.streamDeadlineMs));
    const out = new Readable({
      highWaterMark: limits.streamChunkBytes,
      read: () => call.resume(),
      destroy: (err, callback) => {
        call.cancel();
        callback(err);
      },
    });
    call.on("data", (reply: { chunk: Buffer }) => {
      if (reply.chunk.length > 0 && !out.push(reply.chunk)) call.pause();
    });
    call.on("end", () => out.push(null));
    call.on("error", (err) => out.destroy(fromGrpcError(err)));
    return out;
  }

  /** The committed value served for `key`; KEY_NOT_FOUND when there is none. */
  async stat(key: string, options: VolumeCallOptions = {}): Promise<VolumeKeyInfo> {
    const reply = await this.unary<StatReply__Output>(
      (md, opts, cb) => this.client.Stat({ key }, md, opts, cb),
      options,
    );
    return {
      key: reply.key,
      size: Number(reply.size),
      crc32c: reply.crc32c,
      version: Number(reply.version),
      contentType: reply.content_type,
      createdAtMs: Number(reply.created_at_ms),
      prepared: false,
      txid: "",
    };
  }

  /**
   * Lists the keys of one shard (all shards when `shard` is undefined) in key order, in
   * batches of at most limits.listKeysBatchMax.
   */
  async *listKeys(
    options: VolumeCallOptions & { shard?: number; includePrepared?: boolean } = {},
  ): AsyncGenerator<VolumeKeyInfo[]> {
    const request = {
      shard: options.shard ?? 0,
      all_shards: options.shard === undefined,
      include_prepared: options.includePrepared ?? false,
    };
    const call = this.client.ListKeys(request, this.callOptions(options, this.streamDeadlineMs));
    try {
      for await (const reply of call as AsyncIterable<{ entries: KeyEntry__Output[] }>) {
        yield reply.entries.map(keyInfoOf);
      }
    } catch (err) {
      throw fromGrpcError(err);
    } finally {
      call.cancel();
    }
  }

  /** Re-reads a stored value on the volume and returns its freshly computed CRC32C. */
  async checksum(key: string, options: VolumeCallOptions = {}): Promise<VolumeChecksum> {
    const reply = await this.unary<ChecksumReply__Output>(
      (md, opts, cb) => this.client.Checksum({ key }, md, opts, cb),
      options,
    );
    return {
      key: reply.key,
      size: Number(reply.size),
      version: Number(reply.version),
      crc32c: reply.crc32c,
      recordedCrc32c: reply.recorded_crc32c,
    };
  }

  /** Compacts the volume (or the segments holding `shard`) now. */
  async compact(
    options: VolumeCallOptions & { shard?: number } = {},
  ): Promise<{ segmentsCompacted: number; bytesFreed: number }> {
    const request = { has_shard: options.shard !== undefined, shard: options.shard ?? 0 };
    const reply = await this.unary<CompactReply__Output>(
      (md, opts, cb) => this.client.Compact(request, md, opts, cb),
      options,
    );
    return { segmentsCompacted: reply.segments_compacted, bytesFreed: Number(reply.bytes_freed) };
  }

  async health(options: VolumeCallOptions = {}): Promise<VolumeHealth> {
    const reply = await this.unary<HealthReply__Output>(
      (md, opts, cb) => this.client.Health({}, md, opts, cb),
      options,
    );
    return {
      volumeId: reply.volume_id,
      state: reply.state,
      capacityBytes: Number(reply.capacity_bytes),
      usedBytes: Number(reply.used_bytes),
      keys: Number(reply.keys),
    };
  }

  /** Closes the channel; calls still running fail with UNAVAILABLE. */
  close(): void {
    this.pipe.close();
    this.client.close();
  }

  private onPipe(
    request: PipeCallRequest,
    options: VolumeCallOptions,
    deadlineMs = options.deadlineMs ?? this.unaryDeadlineMs,
  ): ReturnType<VolumePipe["call"]> {
    return this.pipe.call(request, deadlineMs, options.signal);
  }

  private callOptions(options: VolumeCallOptions, fallbackMs: number | undefined): grpc.CallOptions {
    const deadlineMs = options.deadlineMs ?? fallbackMs;
    return { deadline: deadlineMs === undefined ? Infinity : Date.now() + deadlineMs };
  }

  private unary<T>(start: UnaryStart<T>, options: VolumeCallOptions): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (options.signal?.aborted === true) {
        reject(new MinikvError(ErrorCode.CLIENT_ABORTED, "call cancelled before it started"));
        return;
      }
      const call = start(
        new grpc.Metadata(),
        this.callOptions(options, this.unaryDeadlineMs),
        (err, value) => {
          options.signal?.removeEventListener("abort", cancel);
          if (err !== null || value === undefined) reject(fromGrpcError(err));
          else resolve(value);
        },
      );
      const cancel = (): void => call.cancel();
      options.signal?.addEventListener("abort", cancel, { once: true });
    });
  }
}

/**
 * Writes header and body into a Prepare call, honouring backpressure, and half-closes it.
 * Stops early once the reply has arrived (the volume said no). A failing body cancels the
 * call and rethrows as CLIENT_ABORTED.
 */
async function sendPrepare(
  call: grpc.ClientWritableStream<PrepareRequest>,
  header: VolumePrepareHeader,
  body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  replied: () => boolean,
  replyDone: Promise<unknown>,
): Promise<void> {
  // Each write waits until grpc-js has handed the message to HTTP/2 (its callback), which
  // the receive window paces: without that, grpc-js queues up to 16 messages per call before
  // write() says "full", i.e. 4 MiB of 256 KiB chunks per volume held in this process.
  const write = async (message: PrepareRequest): Promise<void> => {
    const written = new Promise<void>((resolve) =>
      call.write(message, () => {
        if (message.chunk instanceof Uint8Array) chunkSent(message.chunk);
        resolve();
      }),
    );
    await Promise.race([written, replyDone]);
  };
  try {
    await write({ header: headerMessage(header) });
    for await (const chunk of body) {
      // A chunk that fits goes as it is, so that its encoding is found (sharedChunk).
      if (chunk.length <= limits.streamChunkBytes) await write({ chunk });
      else {
        for (let at = 0; at < chunk.length && !replied(); at += limits.streamChunkBytes) {
          await write({ chunk: chunk.subarray(at, at + limits.streamChunkBytes) });
        }
      }
      if (replied()) return;
    }
    call.end();
  } catch (err) {
    call.cancel();
    if (isMinikvError(err)) throw err;
    throw new MinikvError(ErrorCode.CLIENT_ABORTED, "the prepare body failed; the write was cancelled", {
      cause: err,
    });
  }
}

function headerMessage(header: VolumePrepareHeader): PrepareHeader {
  return {
    txid: header.txid,
    key: header.key,
    size: header.size,
    crc32c: header.crc32c,
    content_type: header.contentType ?? "",
    crc32c_unknown: header.crc32cUnknown === true,
    size_unknown: header.sizeUnknown === true,
  };
}

function unexpectedReply(call: string): MinikvError {
  return new MinikvError(ErrorCode.INTERNAL, `the volume answered a pipe ${call} with another call's reply`);
}

function keyInfoOf(entry: KeyEntry__Output): VolumeKeyInfo {
  return {
    key: entry.key,
    size: Number(entry.size),
    crc32c: entry.crc32c,
    version: Number(entry.version),
    contentType: "",
    createdAtMs: Number(entry.created_at_ms),
    prepared: entry.prepared,
    txid: entry.txid,
  };
}
