/**
 * The volume's `Pipe` call (proto/volume.proto): many small requests on one long-lived
 * stream, each handled by the same function as its own RPC (grpc-service.ts) and answered
 * with its id as soon as it completes. What it saves is per-call transport work: an HTTP/2
 * stream, its headers and trailers, and the server's call setup, which at thousands of
 * small writes per second cost more CPU than the writes themselves. Requests arrive in
 * batches (PipeRequests); replies that complete in the same turn of the event loop leave
 * together in one PipeReplies, written when the turn ends.
 */
import type * as grpc from "@grpc/grpc-js";
import { ErrorCode, MinikvError, toMinikvError } from "../common/errors.js";
import { PIPE_VALUE_BYTES_MAX } from "../common/volume-client.js";
import { PIPE_BATCH_VALUE_BYTES_MAX } from "../common/volume-pipe.js";
import type { PipeReplies } from "../proto/generated/minikv/volume/v1/PipeReplies.js";
import type { PipeReply } from "../proto/generated/minikv/volume/v1/PipeReply.js";
import type { PipeRequest__Output } from "../proto/generated/minikv/volume/v1/PipeRequest.js";
import type { PipeRequests__Output } from "../proto/generated/minikv/volume/v1/PipeRequests.js";
import type { ReadRequest__Output } from "../proto/generated/minikv/volume/v1/ReadRequest.js";
import {
  abortCall,
  commitCall,
  deleteCall,
  finish,
  parseHeader,
  parseUint64,
  prepareCall,
  readChunks,
  type VolumeServiceDeps,
} from "./grpc-service.js";

type PipeCall = grpc.ServerDuplexStream<PipeRequests__Output, PipeReplies>;

/** The open pipes of one server, so that shutdown can end them. */
export class PipeRegistry {
  private readonly open = new Set<OpenPipe>();
  private closing = false;

  add(pipe: OpenPipe): void {
    if (this.closing) pipe.closeWhenIdle();
    else this.open.add(pipe);
  }

  delete(pipe: OpenPipe): void {
    this.open.delete(pipe);
  }

  /**
   * Ends every pipe once the requests it already took are answered; a request arriving
   * after this is refused with SHUTTING_DOWN. The client then opens no new pipe here.
   */
  closeAll(): void {
    this.closing = true;
    for (const pipe of this.open) pipe.closeWhenIdle();
  }

  get size(): number {
    return this.open.size;
  }
}

class OpenPipe {
  private running = 0;
  private closing = false;
  private ended = false;
  /** Replies waiting for the end of the turn. */
  private replies: PipeReply[] = [];
  private replyBytes = 0;

  constructor(private readonly call: PipeCall) {}

  get accepting(): boolean {
    return !this.closing;
  }

  started(): void {
    this.running++;
  }

  answer(reply: PipeReply): void {
    this.running--;
    if (this.replies.length === 0) setImmediate(() => this.flush());
    this.replies.push(reply);
    this.replyBytes += reply.read?.chunk?.length ?? 0;
    if (this.replyBytes >= PIPE_BATCH_VALUE_BYTES_MAX) this.flush();
    this.endIfIdle();
  }

  private flush(): void {
    if (this.replies.length === 0) return;
    const replies = this.replies;
    this.replies = [];
    this.replyBytes = 0;
    if (!this.ended && !this.call.cancelled && !this.call.destroyed) this.call.write({ replies });
  }

  closeWhenIdle(): void {
    this.closing = true;
    this.endIfIdle();
  }

  private endIfIdle(): void {
    if (!this.closing || this.running > 0 || this.ended) return;
    this.flush();
    this.ended = true;
    if (!this.call.cancelled && !this.call.destroyed) this.call.end();
  }
}

/** Serves one Pipe call until the client ends or cancels it, or the server shuts down. */
export function servePipe(deps: VolumeServiceDeps, call: PipeCall): void {
  const pipe = new OpenPipe(call);
  deps.pipes.add(pipe);
  const forget = (): void => deps.pipes.delete(pipe);
  call.on("data", (batch: PipeRequests__Output) => {
    for (const request of batch.requests) {
      pipe.started();
      void handle(deps, request, pipe.accepting).then((reply) => pipe.answer(reply));
    }
  });
  // The client finished sending: answer what is running, then end our side too.
  call.on("end", () => pipe.closeWhenIdle());
  call.on("error", forget);
  call.on("cancelled", forget);
  call.on("close", forget);
}

/** Runs one request; never rejects: a failure is answered as a PipeError. */
async function handle(
  deps: VolumeServiceDeps,
  request: PipeRequest__Output,
  accepting: boolean,
): Promise<PipeReply> {
  const id = request.id;
  const method = `Pipe.${request.call ?? "none"}`;
  try {
    if (!accepting) {
      throw new MinikvError(ErrorCode.SHUTTING_DOWN, `volume ${deps.volumeId} is shutting down`);
    }
    return { id, ...(await finish(deps, method, () => dispatch(deps, request))) };
  } catch (err) {
    const e = toMinikvError(err);
    return { id, error: { code: e.code, message: e.message, detail: { ...(e.detail ?? {}) } } };
  }
}

async function dispatch(deps: VolumeServiceDeps, request: PipeRequest__Output): Promise<PipeReply> {
  switch (request.call) {
    case "prepare": {
      const header = parseHeader(request.prepare?.header);
      const value = request.prepare?.value ?? Buffer.alloc(0);
      deps.metrics.grpcBytesReceived.inc(value.length);
      return { prepare: await prepareCall(deps, header, wholeValue(value)) };
    }
    case "commit":
      return { commit: await commitCall(deps, required(request.commit, "commit")) };
    case "abort":
      return { abort: await abortCall(deps, required(request.abort, "abort")) };
    case "delete":
      return { delete: await deleteCall(deps, required(request.delete, "delete")) };
    case "read":
      return { read: { chunk: await readWhole(deps, required(request.read, "read")) } };
    case undefined:
      break;
  }
  throw new MinikvError(ErrorCode.INVALID_ARGUMENT, "a pipe request must name its call");
}

function required<T>(value: T | null | undefined, name: string): T {
  if (value === null || value === undefined) {
    throw new MinikvError(ErrorCode.INVALID_ARGUMENT, `pipe request ${name} has no body`);
  }
  return value;
}

function wholeValue(value: Buffer): AsyncIterable<Uint8Array> {
  return {
    [Symbol.asyncIterator]: () => {
      let done = value.length === 0;
      return {
        next: () => {
          const step: IteratorResult<Uint8Array> = done ? { done, value: undefined } : { done, value };
          done = true;
          return Promise.resolve(step);
        },
      };
    },
  };
}

/** The whole requested range, CRC-checked, in one buffer. */
async function readWhole(deps: VolumeServiceDeps, request: ReadRequest__Output): Promise<Buffer> {
  const length = parseUint64(request.length, "length");
  if (length === 0 || length > PIPE_VALUE_BYTES_MAX) {
    throw new MinikvError(
      ErrorCode.INVALID_ARGUMENT,
      `a pipe read takes a length from 1 to ${PIPE_VALUE_BYTES_MAX} bytes; use Read for more`,
    );
  }
  const chunks: Buffer[] = [];
  for await (const chunk of readChunks(deps, request)) chunks.push(chunk);
  const bytes = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
  deps.metrics.grpcBytesSent.inc(bytes.length);
  return bytes;
}
