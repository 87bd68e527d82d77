import type * as grpc from "@grpc/grpc-js";
import type { Logger } from "../common/logger.js";
import { waitForDrain } from "../common/backpressure.js";
import { ErrorCode, MinikvError, toMinikvError } from "../common/errors.js";
import { toGrpcError } from "../common/grpc.js";
import { framedBytesMessage, useSharedFrames, withFrame } from "../common/grpc-framing.js";
import { SHARD_COUNT } from "../common/hashing.js";
import { validateKey } from "../common/keys.js";
import { limits } from "../common/limits.js";
import { noteStreamedBytes } from "../common/stream-memory.js";
import type { VolumeHandlers } from "../proto/generated/minikv/volume/v1/Volume.js";
import type { PrepareRequest__Output } from "../proto/generated/minikv/volume/v1/PrepareRequest.js";
import type { PrepareReply } from "../proto/generated/minikv/volume/v1/PrepareReply.js";
import type { PrepareHeader__Output } from "../proto/generated/minikv/volume/v1/PrepareHeader.js";
import type { CommitRequest__Output } from "../proto/generated/minikv/volume/v1/CommitRequest.js";
import type { CommitReply } from "../proto/generated/minikv/volume/v1/CommitReply.js";
import type { AbortRequest__Output } from "../proto/generated/minikv/volume/v1/AbortRequest.js";
import type { AbortReply } from "../proto/generated/minikv/volume/v1/AbortReply.js";
import type { DeleteRequest__Output } from "../proto/generated/minikv/volume/v1/DeleteRequest.js";
import type { DeleteReply } from "../proto/generated/minikv/volume/v1/DeleteReply.js";
import type { ReadRequest__Output } from "../proto/generated/minikv/volume/v1/ReadRequest.js";
import type { ReadReply } from "../proto/generated/minikv/volume/v1/ReadReply.js";
import type { ListKeysRequest__Output } from "../proto/generated/minikv/volume/v1/ListKeysRequest.js";
import type { ListKeysReply } from "../proto/generated/minikv/volume/v1/ListKeysReply.js";
import type { KeyEntry } from "../proto/generated/minikv/volume/v1/KeyEntry.js";
import type { PrepareHeader, PrepareResult, StoredValueInfo, VolumeStore } from "./store-api.js";
import type { VolumeServerMetrics } from "./server-metrics.js";
import type { InflightTracker } from "./inflight.js";
import { servePipe, type PipeRegistry } from "./pipe-service.js";

/** What the gRPC adapter needs; it owns none of it. */
export interface VolumeServiceDeps {
  readonly store: VolumeStore;
  readonly volumeId: string;
  readonly metrics: VolumeServerMetrics;
  readonly logger: Logger;
  /** "serving" while new writes are taken, "closing" once shutdown began. */
  readonly state: () => string;
  /** Every call registers here so shutdown can wait for it before closing the store. */
  readonly inflight: InflightTracker;
  /** Open pipes, so shutdown can end them (PipeRegistry.closeAll). */
  readonly pipes: PipeRegistry;
}

/** Bounds on request fields the proto leaves open. */
const requestBounds = {
  txidBytesMax: 256,
} as const;

type Unary<Req, Res> = (request: Req) => Promise<Res>;

/**
 * The `Volume` gRPC service: each handler parses its request, calls one store function and
 * maps errors to the stable codes (toGrpcError). Nothing a client sends can throw out of a
 * handler: every path ends in a status.
 */
export function createVolumeService(deps: VolumeServiceDeps): VolumeHandlers {
  const { store } = deps;
  useSharedFrames(); // Read replies leave in the frames they are built in (streamRead)
  return {
    Prepare: (call, callback) => {
      const work = finish(deps, "Prepare", () => prepare(deps, call));
      void work.then(
        (reply) => callback(null, reply),
        (err) => callback(toGrpcError(err)),
      );
    },
    Commit: unary(deps, "Commit", (req) => commitCall(deps, req)),
    Abort: unary(deps, "Abort", (req) => abortCall(deps, req)),
    Delete: unary(deps, "Delete", (req) => deleteCall(deps, req)),
    Read: (call) => void finish(deps, "Read", () => streamRead(deps, call)).catch(failStream(call)),
    Stat: unary(deps, "Stat", (req) => Promise.resolve(statReply(store, validateKey(req.key)))),
    ListKeys: (call) => void finish(deps, "ListKeys", () => streamKeys(deps, call)).catch(failStream(call)),
    Checksum: unary(deps, "Checksum", async (req) => {
      const result = await store.checksum(validateKey(req.key));
      return {
        key: result.key,
        size: result.size,
        crc32c: result.crc32c,
        recorded_crc32c: result.recordedCrc32c,
        version: result.version,
      };
    }),
    Compact: unary(deps, "Compact", async (req) => {
      const shard = req.has_shard ? parseShard(req.shard) : undefined;
      const result = await store.compact(shard === undefined ? {} : { shard });
      return { segments_compacted: result.segmentsCompacted, bytes_freed: result.bytesFreed };
    }),
    Pipe: (call) => servePipe(deps, call),
    Health: unary(deps, "Health", () => {
      const stats = store.stats();
      return Promise.resolve({
        volume_id: deps.volumeId,
        state: deps.state(),
        capacity_bytes: stats.capacityBytes,
        used_bytes: stats.usedBytes,
        keys: stats.keys,
      });
    }),
  };
}

/** Adapts a promise-returning handler to grpc-js's unary callback style. */
function unary<Req, Res>(
  deps: VolumeServiceDeps,
  method: string,
  handler: Unary<Req, Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    void finish(deps, method, () => handler(call.request)).then(
      (reply) => callback(null, reply),
      (err) => callback(toGrpcError(err)),
    );
  };
}

export async function commitCall(deps: VolumeServiceDeps, req: CommitRequest__Output): Promise<CommitReply> {
  const txid = parseTxid(req.txid);
  await counted(deps.metrics.commits, deps.store.commit(txid, parseVersion(req.version, "version")));
  return {};
}

export async function abortCall(deps: VolumeServiceDeps, req: AbortRequest__Output): Promise<AbortReply> {
  await counted(deps.metrics.aborts, deps.store.abort(parseTxid(req.txid)));
  return {};
}

export async function deleteCall(deps: VolumeServiceDeps, req: DeleteRequest__Output): Promise<DeleteReply> {
  const key = validateKey(req.key);
  const existed = await counted(
    deps.metrics.deletes,
    deps.store.delete(key, parseVersion(req.version, "version")),
  );
  return { existed };
}

/** Runs one call: tracked for shutdown, counted by outcome, internal failures logged. */
export async function finish<T>(deps: VolumeServiceDeps, method: string, run: () => Promise<T>): Promise<T> {
  try {
    const result = await deps.inflight.track(run());
    deps.metrics.grpcRequests.inc({ method, code: "OK" });
    return result;
  } catch (err) {
    const e = toMinikvError(err);
    deps.metrics.grpcRequests.inc({ method, code: e.code });
    // Corrupt records are logged and counted by the engine, with segment and offset.
    if (e.code === ErrorCode.INTERNAL) deps.logger.error({ err: e, method }, "gRPC call failed");
    throw e;
  }
}

async function counted<T>(counter: VolumeServerMetrics["prepares"], work: Promise<T>): Promise<T> {
  try {
    const result = await work;
    counter.inc({ result: "ok" });
    return result;
  } catch (err) {
    counter.inc({ result: toMinikvError(err).code });
    throw err;
  }
}

function failStream(call: grpc.ServerWritableStream<unknown, unknown>): (err: unknown) => void {
  return (err) => {
    // A cancelled call has no one to tell; grpc-js already ended it.
    if (!call.cancelled && !call.destroyed) call.emit("error", toGrpcError(err));
  };
}

async function prepare(
  deps: VolumeServiceDeps,
  call: grpc.ServerReadableStream<PrepareRequest__Output, PrepareReply>,
): Promise<PrepareReply> {
  const messages = call[Symbol.asyncIterator]() as AsyncIterator<PrepareRequest__Output>;
  const first = await nextMessage(messages, call);
  if (first.done === true) {
    throw new MinikvError(ErrorCode.INVALID_ARGUMENT, "the Prepare stream ended before its header");
  }
  const header = parseHeader(first.value.part === "header" ? first.value.header : undefined);
  const body = new PrepareBody(messages, call, header, deps.metrics);
  return prepareCall(deps, header, body, () => body.error);
}

/**
 * Stores one prepared value and answers the vote. `bodyError` names why the body failed,
 * when it did: the store sees any body failure as CLIENT_ABORTED.
 */
export async function prepareCall(
  deps: VolumeServiceDeps,
  header: PrepareHeader,
  body: AsyncIterable<Uint8Array>,
  bodyError: () => MinikvError | undefined = () => undefined,
): Promise<PrepareReply> {
  if (deps.state() !== "serving") {
    throw new MinikvError(ErrorCode.SHUTTING_DOWN, `volume ${deps.volumeId} is shutting down`);
  }
  let stored: PrepareResult;
  try {
    stored = await counted(deps.metrics.prepares, deps.store.prepare(header, body));
  } catch (err) {
    throw bodyError() ?? err;
  }
  return { txid: header.txid, volume_id: deps.volumeId, size: stored.size, crc32c: stored.crc32c };
}

/**
 * The chunks after the header, as the AsyncIterable the store consumes: pulled one message
 * at a time, so gRPC flow control holds the sender back while the disk is behind.
 */
class PrepareBody implements AsyncIterable<Uint8Array> {
  error: MinikvError | undefined;
  private receivedBytes = 0;

  constructor(
    private readonly messages: AsyncIterator<PrepareRequest__Output>,
    private readonly call: grpc.ServerReadableStream<PrepareRequest__Output, PrepareReply>,
    private readonly header: PrepareHeader,
    private readonly metrics: VolumeServerMetrics,
  ) {}

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    try {
      for (;;) {
        const next = await nextMessage(this.messages, this.call);
        if (next.done === true) return;
        yield this.check(next.value);
      }
    } catch (err) {
      this.error = toMinikvError(err, ErrorCode.CLIENT_ABORTED);
      throw this.error;
    }
  }

  private check(message: PrepareRequest__Output): Buffer {
    if (message.part !== "chunk" || message.chunk === undefined) {
      throw new MinikvError(
        ErrorCode.INVALID_ARGUMENT,
        "a Prepare stream carries one header, then only chunks",
      );
    }
    this.receivedBytes += message.chunk.length;
    this.metrics.grpcBytesReceived.inc(message.chunk.length);
    noteStreamedBytes(message.chunk.length);
    if (this.header.sizeUnknown === true) {
      if (this.receivedBytes > limits.blobBytesMax) {
        throw new MinikvError(ErrorCode.TOO_LARGE, `value exceeds the limit of ${limits.blobBytesMax} bytes`);
      }
    } else if (this.receivedBytes > this.header.size) {
      throw new MinikvError(
        ErrorCode.SIZE_MISMATCH,
        `received more than the announced ${this.header.size} bytes`,
      );
    }
    return message.chunk;
  }
}

/** The next message of a client stream; a cancelled or broken stream is CLIENT_ABORTED. */
async function nextMessage(
  messages: AsyncIterator<PrepareRequest__Output>,
  call: grpc.ServerReadableStream<PrepareRequest__Output, PrepareReply>,
): Promise<IteratorResult<PrepareRequest__Output>> {
  let next: IteratorResult<PrepareRequest__Output>;
  try {
    next = await messages.next();
  } catch (cause) {
    throw new MinikvError(ErrorCode.CLIENT_ABORTED, "the client broke off the Prepare stream", { cause });
  }
  if (call.cancelled)
    throw new MinikvError(ErrorCode.CLIENT_ABORTED, "the client cancelled the Prepare stream");
  return next;
}

export function parseHeader(header: PrepareHeader__Output | null | undefined): PrepareHeader {
  if (header === undefined || header === null) {
    throw new MinikvError(ErrorCode.INVALID_ARGUMENT, "a prepare must start with its header");
  }
  const sizeUnknown = header.size_unknown;
  const size = sizeUnknown ? 0 : parseUint64(header.size, "size");
  if (size > limits.blobBytesMax) {
    throw new MinikvError(
      ErrorCode.TOO_LARGE,
      `size ${size} exceeds the limit of ${limits.blobBytesMax} bytes`,
    );
  }
  if (Buffer.byteLength(header.content_type, "utf8") > limits.contentTypeBytesMax) {
    throw new MinikvError(
      ErrorCode.INVALID_ARGUMENT,
      `content_type exceeds ${limits.contentTypeBytesMax} bytes`,
    );
  }
  return {
    txid: parseTxid(header.txid),
    key: validateKey(header.key),
    size,
    // Without a length there is nothing the sender could have checksummed in advance.
    crc32c: header.crc32c_unknown || sizeUnknown ? 0 : header.crc32c >>> 0,
    contentType: header.content_type,
    crc32cUnknown: header.crc32c_unknown || sizeUnknown,
    sizeUnknown,
  };
}

/** The stored bytes a ReadRequest asks for, CRC-checked as they are read. */
export function readChunks(deps: VolumeServiceDeps, request: ReadRequest__Output): AsyncIterable<Buffer> {
  const key = validateKey(request.key);
  const offset = parseUint64(request.offset, "offset");
  const length = parseUint64(request.length, "length");
  const version = parseUint64(request.version, "version");
  return deps.store.read(key, {
    offset,
    ...(length > 0 ? { length } : {}),
    ...(version > 0 ? { version } : {}),
  });
}

/** Field `chunk` of ReadReply. */
const READ_REPLY_CHUNK_FIELD_NUMBER = 1;

async function streamRead(
  deps: VolumeServiceDeps,
  call: grpc.ServerWritableStream<ReadRequest__Output, ReadReply>,
): Promise<void> {
  const chunks = readChunks(deps, call.request);
  for await (const chunk of chunks) {
    // Leaving the loop returns the store's iterator, which closes its file.
    if (call.cancelled || call.destroyed) return;
    for (let at = 0; at < chunk.length; at += limits.streamChunkBytes) {
      const slice = chunk.subarray(at, at + limits.streamChunkBytes);
      deps.metrics.grpcBytesSent.inc(slice.length);
      noteStreamedBytes(slice.length);
      // The slice is copied once, into its ReadReply encoding inside its gRPC frame, which
      // grpc-js then sends as it is (grpc-framing.ts).
      const { message, field } = framedBytesMessage(READ_REPLY_CHUNK_FIELD_NUMBER, [slice], slice.length);
      if (!call.write(withFrame({ chunk: field }, message))) await waitForDrain(call);
    }
  }
  if (!call.cancelled && !call.destroyed) call.end();
}

async function streamKeys(
  deps: VolumeServiceDeps,
  call: grpc.ServerWritableStream<ListKeysRequest__Output, ListKeysReply>,
): Promise<void> {
  const request = call.request;
  const shard = request.all_shards ? undefined : parseShard(request.shard);
  const entries = deps.store.listKeys(shard, request.include_prepared);
  for (let at = 0; at < entries.length; at += limits.listKeysBatchMax) {
    if (call.cancelled || call.destroyed) return;
    const batch = entries.slice(at, at + limits.listKeysBatchMax).map(keyEntryOf);
    if (!call.write({ entries: batch })) await waitForDrain(call);
  }
  if (!call.cancelled && !call.destroyed) call.end();
}

function statReply(store: VolumeStore, key: string): Record<string, string | number> {
  const info = store.stat(key);
  if (info === undefined) throw new MinikvError(ErrorCode.KEY_NOT_FOUND, "key not found on this volume");
  return {
    key: info.key,
    size: info.size,
    crc32c: info.crc32c,
    version: info.version,
    content_type: info.contentType,
    created_at_ms: info.createdAtMs,
  };
}

function keyEntryOf(info: StoredValueInfo): KeyEntry {
  return {
    key: info.key,
    size: info.size,
    crc32c: info.crc32c,
    version: info.version,
    prepared: info.prepared,
    txid: info.txid,
    created_at_ms: info.createdAtMs,
  };
}

/** uint64 fields arrive as decimal strings; anything beyond 2^53 cannot be a real size or version. */
export function parseUint64(value: string, field: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
    throw new MinikvError(ErrorCode.INVALID_ARGUMENT, `${field} must be an integer below 2^53, got ${value}`);
  }
  return n;
}

/** Versions are Raft indexes, which start at 1. */
function parseVersion(value: string, field: string): number {
  const n = parseUint64(value, field);
  if (n === 0) throw new MinikvError(ErrorCode.INVALID_ARGUMENT, `${field} must be at least 1`);
  return n;
}

function parseTxid(txid: string): string {
  if (txid.length === 0) throw new MinikvError(ErrorCode.INVALID_ARGUMENT, "txid is empty");
  if (Buffer.byteLength(txid, "utf8") > requestBounds.txidBytesMax) {
    throw new MinikvError(ErrorCode.INVALID_ARGUMENT, `txid exceeds ${requestBounds.txidBytesMax} bytes`);
  }
  return txid;
}

function parseShard(shard: number): number {
  if (!Number.isInteger(shard) || shard < 0 || shard >= SHARD_COUNT) {
    throw new MinikvError(
      ErrorCode.INVALID_ARGUMENT,
      `shard must be in [0, ${SHARD_COUNT - 1}], got ${shard}`,
    );
  }
  return shard;
}
