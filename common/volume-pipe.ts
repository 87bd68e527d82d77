/**
 * The client side of a volume's `Pipe` call: small requests (whole-value prepares, commits,
 * aborts, deletes, small reads) share one long-lived stream, each matched to its reply by
 * id. The stream opens on first use and again after it breaks; a request left unanswered
 * when it breaks fails UNAVAILABLE (its outcome on the volume is unknown, exactly as for a
 * unary call whose connection dropped).
 *
 * Requests issued in the same turn of the event loop leave together, in one PipeRequests
 * message written when the turn ends (setImmediate), and the volume batches its replies the
 * same way: at thousands of small calls per second, grpc-js's work per message (framing,
 * HTTP/2 writes, its callbacks) would otherwise cost more than the calls themselves.
 */
import type * as grpc from "@grpc/grpc-js";
import type { VolumeClient as GrpcVolumeClient } from "../proto/generated/minikv/volume/v1/Volume.js";
import type { PipeReplies__Output } from "../proto/generated/minikv/volume/v1/PipeReplies.js";
import type { PipeReply__Output } from "../proto/generated/minikv/volume/v1/PipeReply.js";
import type { PipeRequest } from "../proto/generated/minikv/volume/v1/PipeRequest.js";
import type { PipeRequests } from "../proto/generated/minikv/volume/v1/PipeRequests.js";
import { ErrorCode, MinikvError, isErrorCode } from "./errors.js";
import { fromGrpcError } from "./grpc.js";

/** Unanswered requests one pipe may hold; beyond this a request fails OVERLOADED at once. */
const PENDING_MAX = 8192;
/** How often deadlines are checked: one timer per pipe, not one per request. */
const DEADLINE_SWEEP_MS = 50;
/**
 * A batch (of requests here, of replies on the volume) is written at once when its values
 * reach this many bytes, without waiting for the turn to end.
 */
export const PIPE_BATCH_VALUE_BYTES_MAX = 1024 * 1024;

/** A request without its id: exactly one of the call fields of PipeRequest. */
export type PipeCallRequest = Omit<PipeRequest, "id">;

interface Pending {
  readonly resolve: (reply: PipeReply__Output) => void;
  readonly reject: (err: MinikvError) => void;
  readonly deadline: number;
  readonly sentAt: number;
  readonly call: Stream;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: (() => void) | undefined;
}

type Stream = grpc.ClientDuplexStream<PipeRequests, PipeReplies__Output>;

/** Requests waiting for the end of the turn, all for one stream. */
interface Batch {
  readonly stream: Stream;
  readonly requests: PipeRequest[];
  valueBytes: number;
}

export class VolumePipe {
  private stream: Stream | null = null;
  private batch: Batch | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** When the current stream last delivered a reply. */
  private lastReplyAt = 0;
  private sweeper: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly client: GrpcVolumeClient,
    private readonly address: string,
  ) {}

  /**
   * Sends one request and resolves with its reply; rejects with the volume's error (its
   * stable code), TIMEOUT after `deadlineMs`, CLIENT_ABORTED when `signal` aborts, or
   * UNAVAILABLE when the pipe breaks first.
   */
  call(request: PipeCallRequest, deadlineMs: number, signal?: AbortSignal): Promise<PipeReply__Output> {
    if (signal?.aborted === true) {
      return Promise.reject(new MinikvError(ErrorCode.CLIENT_ABORTED, "call cancelled before it started"));
    }
    if (this.closed) {
      return Promise.reject(new MinikvError(ErrorCode.UNAVAILABLE, `client for ${this.address} is closed`));
    }
    if (this.pending.size >= PENDING_MAX) {
      return Promise.reject(
        new MinikvError(ErrorCode.OVERLOADED, `${PENDING_MAX} requests to ${this.address} are waiting`),
      );
    }
    const stream = this.open();
    const id = this.takeId();
    return new Promise<PipeReply__Output>((resolve, reject) => {
      const now = performance.now();
      const onAbort =
        signal === undefined
          ? undefined
          : () => this.settle(id, new MinikvError(ErrorCode.CLIENT_ABORTED, "call cancelled"));
      this.pending.set(id, {
        resolve,
        reject,
        deadline: now + deadlineMs,
        sentAt: now,
        call: stream,
        signal,
        onAbort,
      });
      if (onAbort !== undefined) signal?.addEventListener("abort", onAbort, { once: true });
      this.startSweeper();
      this.enqueue(stream, { ...request, id });
    });
  }

  private enqueue(stream: Stream, request: PipeRequest): void {
    const batch = this.batch?.stream === stream ? this.batch : this.newBatch(stream);
    batch.requests.push(request);
    batch.valueBytes += request.prepare?.value?.length ?? 0;
    if (batch.valueBytes >= PIPE_BATCH_VALUE_BYTES_MAX) this.flush(batch);
  }

  /** A batch for `stream`, written when this turn of the event loop ends. */
  private newBatch(stream: Stream): Batch {
    const batch: Batch = { stream, requests: [], valueBytes: 0 };
    this.batch = batch;
    setImmediate(() => this.flush(batch));
    return batch;
  }

  private flush(batch: Batch): void {
    if (this.batch !== batch) return; // written already
    this.batch = null;
    // A broken stream failed these requests already.
    if (batch.stream === this.stream) batch.stream.write({ requests: batch.requests });
  }

  /** Cancels the stream; every unanswered request fails UNAVAILABLE, later ones at once. */
  close(): void {
    this.closed = true;
    this.stream?.cancel();
    this.failAll(null, new MinikvError(ErrorCode.UNAVAILABLE, `client for ${this.address} is closed`));
  }

  private open(): Stream {
    if (this.stream !== null) return this.stream;
    const stream = this.client.Pipe();
    this.stream = stream;
    this.lastReplyAt = performance.now();
    stream.on("data", (replies: PipeReplies__Output) => {
      this.lastReplyAt = performance.now();
      for (const reply of replies.replies) {
        const error = reply.result === "error" ? reply.error : undefined;
        if (error !== undefined && error !== null) this.settle(reply.id, errorOf(error));
        else this.settle(reply.id, reply);
      }
    });
    const broken = (err: unknown): void => {
      if (this.stream === stream) this.stream = null;
      const cause = err === undefined ? undefined : fromGrpcError(err);
      this.failAll(
        stream,
        new MinikvError(
          ErrorCode.UNAVAILABLE,
          `the pipe to volume ${this.address} closed before answering${cause === undefined ? "" : `: ${cause.message}`}`,
          cause === undefined ? {} : { cause },
        ),
      );
    };
    stream.on("error", broken);
    // The volume ended its side (it is shutting down): what it has not answered, it will not.
    stream.on("end", () => broken(undefined));
    return stream;
  }

  private takeId(): number {
    do {
      this.nextId = this.nextId >= 0xffff_ffff ? 1 : this.nextId + 1;
    } while (this.pending.has(this.nextId));
    return this.nextId;
  }

  private settle(id: number, outcome: PipeReply__Output | MinikvError): void {
    const pending = this.pending.get(id);
    if (pending === undefined) return; // timed out or cancelled earlier
    this.pending.delete(id);
    if (pending.onAbort !== undefined) pending.signal?.removeEventListener("abort", pending.onAbort);
    if (outcome instanceof MinikvError) pending.reject(outcome);
    else pending.resolve(outcome);
    if (this.pending.size === 0) this.stopSweeper();
  }

  /** Fails the requests sent on `stream` (all of them when null). */
  private failAll(stream: Stream | null, error: MinikvError): void {
    for (const [id, pending] of this.pending)
      if (stream === null || pending.call === stream) this.settle(id, error);
  }

  private startSweeper(): void {
    if (this.sweeper !== null) return;
    this.sweeper = setInterval(() => this.sweep(), DEADLINE_SWEEP_MS);
    this.sweeper.unref();
  }

  private stopSweeper(): void {
    if (this.sweeper === null) return;
    clearInterval(this.sweeper);
    this.sweeper = null;
  }

  private sweep(): void {
    const now = performance.now();
    let silent = false;
    for (const [id, pending] of this.pending) {
      if (pending.deadline > now) continue;
      // Nothing at all came back since this request left: the stream itself is stuck (a
      // peer that stopped reading, a link that drops everything). Start a fresh one.
      if (pending.call === this.stream && this.lastReplyAt < pending.sentAt) silent = true;
      this.settle(
        id,
        new MinikvError(ErrorCode.TIMEOUT, `volume ${this.address} did not answer within the deadline`),
      );
    }
    if (silent && this.stream !== null) {
      const stuck = this.stream;
      this.stream = null;
      stuck.cancel();
    }
  }
}

function errorOf(error: { code: string; message: string; detail: Record<string, string> }): MinikvError {
  const code = isErrorCode(error.code) ? error.code : ErrorCode.INTERNAL;
  const detail = Object.keys(error.detail).length > 0 ? { detail: { ...error.detail } } : {};
  return new MinikvError(code, error.message, detail);
}
