/**
 * The write path (DESIGN.md §5): two-phase commit of one blob across its N HRW targets.
 *
 *   1. place: shard → top N live volumes (fewer → NOT_ENOUGH_VOLUMES, nothing written);
 *   2. prepare: the body streams to all N at once; the slowest volume paces the client
 *      (each sink holds at most one chunk), so memory stays bounded whatever the size;
 *   3. vote: every volume fsynced and returned the length and CRC32C it stored, which must
 *      equal what passed through here;
 *   4. commit point: one Raft entry (putBlob) naming the txid and replicas;
 *   5. the client's answer, then commit on the volumes in the background (a volume that
 *      misses it asks the coordinators later: presumed abort says "committed").
 * Any failure before 4 aborts on every volume. A Raft failure at 4 whose outcome is unknown
 * (timeout, lost leader) sends no abort: the volumes ask, and Raft decides exactly once.
 */
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { PassThrough, Readable } from "node:stream";
import { ErrorCode, MinikvError, isMinikvError, toMinikvError } from "../common/errors.js";
import { crc32c } from "../common/hashing.js";
import { validateKey } from "../common/keys.js";
import { limits } from "../common/limits.js";
import type { Logger } from "../common/logger.js";
import { noteStreamedBytes } from "../common/stream-memory.js";
import { sharedChunk, type VolumePrepareHeader, type VolumePrepareVote } from "../common/volume-client.js";
import type { BlobMetrics } from "./blob-metrics.js";
import type { ClusterState } from "./cluster-state.js";
import type { BlobMeta } from "./metadata-commands.js";
import { MessageFiller, type FilledMessage } from "./message-filler.js";
import type { ReadCache } from "./read-cache.js";

export const blobWriteBounds = {
  /** A body of unknown length is held up to this size to learn its length before preparing. */
  unknownLengthBufferBytes: 1024 * 1024,
  /**
   * A body declared at most this long is received whole before preparing, and goes to every
   * volume as it is: no stream per volume in between. A streamed body holds as much (one
   * chunk per volume) while it passes.
   */
  wholeBodyBytesMax: limits.streamChunkBytes,
  /** Background commit / abort / reclaim calls are retried this many times. */
  followUpAttempts: 5,
  followUpRetryMs: 500,
} as const;

export interface BlobWriteDeps {
  readonly coordinatorId: string;
  readonly replicas: number;
  readonly cluster: ClusterState;
  readonly metrics: BlobMetrics;
  readonly logger: Logger;
  /**
   * Told of every write once its commit point has passed, with the body when it was received
   * whole (at most wholeBodyBytesMax, or of unknown length up to unknownLengthBufferBytes).
   */
  readonly readCache: ReadCache;
  now(): number;
}

export interface BlobWrite {
  readonly key: string;
  readonly body: AsyncIterable<Uint8Array>;
  /** Content-Length when the client sent one. */
  readonly declaredSize: number | null;
  readonly contentType: string;
}

/** Writes one blob; resolves with its committed metadata once the commit point has passed. */
export async function writeBlob(deps: BlobWriteDeps, write: BlobWrite): Promise<BlobMeta> {
  validateKey(write.key);
  if (write.declaredSize !== null && write.declaredSize > limits.blobBytesMax) {
    throw new MinikvError(
      ErrorCode.TOO_LARGE,
      `blob of ${write.declaredSize} bytes exceeds ${limits.blobBytesMax}`,
    );
  }
  let targets = await deps.cluster.placement(write.key, deps.replicas);
  // A follower places with the leader's view of live volumes, reused for up to a second:
  // before refusing, it asks once more, as the view may predate the volumes' registration.
  if (targets.length < deps.replicas) {
    targets = await deps.cluster.placement(write.key, deps.replicas, { fresh: true });
  }
  if (targets.length < deps.replicas) {
    throw new MinikvError(
      ErrorCode.NOT_ENOUGH_VOLUMES,
      `${targets.length} volume(s) can take writes; ${deps.replicas} replicas are required`,
    );
  }
  const txid = `${deps.coordinatorId}.${randomUUID()}`;
  const started = performance.now();
  const source = await receive(write);
  const received = performance.now();
  const header: VolumePrepareHeader = {
    txid,
    key: write.key,
    size: source.size ?? 0,
    crc32c: 0,
    contentType: write.contentType,
    crc32cUnknown: true,
    sizeUnknown: source.size === null,
  };
  const prepared = await prepareAll(deps, targets, header, source);
  const voted = performance.now();
  const blob = await commitWrite(deps, write, targets, txid, prepared);
  const phases = deps.metrics.writePhase;
  phases.observe({ phase: "receive" }, (received - started) / 1000);
  phases.observe({ phase: "prepare" }, (voted - received) / 1000);
  phases.observe({ phase: "commit" }, (performance.now() - voted) / 1000);
  deps.readCache.written(blob, source.whole ? source.chunks : null);
  return blob;
}

type Source =
  | {
      /** The whole body, received: nothing is left to read from the client. */
      readonly whole: true;
      /** Content-Length, or the length of a body sent without one. */
      readonly size: number;
      readonly chunks: readonly Uint8Array[];
    }
  | {
      readonly whole: false;
      /** Content-Length when the client sent one, else null. */
      readonly size: number | null;
      readonly chunks: AsyncIterable<Uint8Array>;
    };

/**
 * Receives a small body whole (declared up to wholeBodyBytesMax, or of unknown length up to
 * unknownLengthBufferBytes, to prepare with its exact length); a larger one is streamed.
 */
async function receive(write: BlobWrite): Promise<Source> {
  const declared = write.declaredSize;
  if (declared !== null && declared > blobWriteBounds.wholeBodyBytesMax) {
    return { whole: false, size: declared, chunks: write.body };
  }
  if (declared !== null) {
    const body = write.body instanceof Readable ? write.body : Readable.from(write.body);
    return receiveDeclared(body, declared);
  }
  const iterator = write.body[Symbol.asyncIterator]();
  const held: Uint8Array[] = [];
  let heldBytes = 0;
  for (;;) {
    const step = await iterator.next().catch((err: unknown) => {
      throw clientGone(err);
    });
    if (step.done === true) {
      // Counted like a stream's chunks (common/stream-memory.ts): a body is held until its
      // commit, long enough to be promoted, so only a major collection frees it. Without
      // these requests a leader's RSS after 45,000 4 KiB PUTs was about 40 MiB higher.
      noteStreamedBytes(heldBytes);
      return { whole: true, size: heldBytes, chunks: held };
    }
    held.push(step.value);
    heldBytes += step.value.length;
    if (heldBytes > blobWriteBounds.unknownLengthBufferBytes) break;
  }
  async function* rest(): AsyncGenerator<Uint8Array> {
    yield* held;
    for (;;) {
      const step = await iterator.next();
      if (step.done === true) return;
      yield step.value;
    }
  }
  return { whole: false, size: null, chunks: rest() };
}

/**
 * A small body of declared length, received whole from its stream's events: the common
 * 4 KiB PUT. A stream's async iterator costs several promises, listeners and a destroy per
 * body. node:http delivers no more than Content-Length and ends a body cut short in an error
 * (failOnAbort), never in 'end'; another source that runs longer than declared is refused
 * as soon as it does (the length is checked again as the body is sent).
 */
function receiveDeclared(body: Readable, declared: number): Promise<Source> {
  return new Promise((resolve, reject) => {
    // Failed while the write was being placed: its 'error' has passed already.
    if (body.destroyed) {
      reject(clientGone(body.errored ?? new Error("the request stream was destroyed")));
      return;
    }
    const held: Uint8Array[] = [];
    let heldBytes = 0;
    const stop = (error: MinikvError): void => {
      body.off("data", onData).off("end", onEnd).off("error", onError);
      reject(error);
    };
    const onData = (chunk: Uint8Array): void => {
      held.push(chunk);
      heldBytes += chunk.length;
      // The rest flows on unread (the caller answers, then discards it).
      if (heldBytes > declared) stop(longerThanDeclared(declared));
    };
    const onError = (err: unknown): void => stop(clientGone(err));
    const onEnd = (): void => {
      body.off("error", onError);
      // Counted like a stream's chunks (see receive). Its length is checked as it is sent.
      noteStreamedBytes(heldBytes);
      resolve({ whole: true, size: declared, chunks: held });
    };
    body.on("data", onData).once("end", onEnd).once("error", onError);
  });
}

/** A prepare failing with one of these takes its volume out of placement for a moment. */
const SKIP_VOLUME_ON: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.UNAVAILABLE,
  ErrorCode.TIMEOUT,
  ErrorCode.DISK_FULL,
]);

interface Prepared {
  readonly size: number;
  readonly crc32c: number;
}

/** Sends the body to every target and collects their votes; aborts everywhere on any failure. */
function prepareAll(
  deps: BlobWriteDeps,
  targets: readonly string[],
  header: VolumePrepareHeader,
  source: Source,
): Promise<Prepared> {
  return source.whole
    ? prepareWhole(deps, targets, header, source.chunks, source.size)
    : prepareStreamed(deps, targets, header, source.chunks, source.size);
}

/**
 * A body received whole goes to each target in one pipe message, once its length is
 * checked. The first failure answers the write at once; the other calls are left to end on
 * their own (their outcome no longer matters: every target is told to abort). Plain
 * callbacks, no AbortController: this is the path of nearly every small PUT.
 */
function prepareWhole(
  deps: BlobWriteDeps,
  targets: readonly string[],
  header: VolumePrepareHeader,
  chunks: readonly Uint8Array[],
  size: number,
): Promise<Prepared> {
  let sent: Prepared;
  try {
    sent = measure(chunks, size);
  } catch (err) {
    deps.metrics.twoPhase.inc({ outcome: "aborted" });
    return Promise.reject(toMinikvError(err));
  }
  return new Promise((resolve, reject) => {
    const votes: VolumePrepareVote[] = [];
    let failed = false;
    const fail = (error: MinikvError): void => {
      if (failed) return;
      failed = true;
      abortEverywhere(deps, targets, header.txid);
      deps.metrics.twoPhase.inc({ outcome: "aborted" });
      reject(error);
    };
    const onVote = (vote: VolumePrepareVote): void => {
      if (failed) return;
      votes.push(vote);
      if (votes.length < targets.length) return;
      try {
        checkVotes(votes, sent, header);
      } catch (err) {
        fail(toMinikvError(err));
        return;
      }
      deps.metrics.bytesIn.inc(sent.size);
      resolve(sent);
    };
    for (const volumeId of targets) {
      const onFailure = (err: unknown): void => fail(volumeFailure(deps, volumeId, err));
      try {
        deps.cluster.pool.client(volumeId).prepare(header, chunks).then(onVote, onFailure);
      } catch (err) {
        onFailure(err);
      }
    }
  });
}

/**
 * What a volume's failed prepare tells the client. Unreachable or out of space, not merely
 * "no": the volume is skipped for new writes until it is heard from again, and the client is
 * told to retry (503), which then goes elsewhere. Only for a failure of the volume's own,
 * not for a call this write cancelled.
 */
function volumeFailure(deps: BlobWriteDeps, volumeId: string, err: unknown): MinikvError {
  const error = toMinikvError(err);
  if (SKIP_VOLUME_ON.has(error.code)) deps.cluster.liveness.suspect(volumeId);
  // Before this write stopped itself, a "cancelled" call can only be the volume's stream
  // breaking (its refusal raced the body): the volume failed, not the client.
  if (error.code === ErrorCode.CLIENT_ABORTED) {
    deps.cluster.liveness.suspect(volumeId);
    return new MinikvError(ErrorCode.UNAVAILABLE, `volume ${volumeId} broke off the prepare; retry`, {
      cause: error,
    });
  }
  if (error.code === ErrorCode.DISK_FULL) {
    return new MinikvError(ErrorCode.UNAVAILABLE, `volume ${volumeId} is out of space; retry`, {
      cause: error,
    });
  }
  return error;
}

/** Streams the body to every target while it arrives; the slowest target paces it. */
async function prepareStreamed(
  deps: BlobWriteDeps,
  targets: readonly string[],
  header: VolumePrepareHeader,
  chunks: AsyncIterable<Uint8Array>,
  size: number | null,
): Promise<Prepared> {
  const failed = new AbortController();
  // The first volume to fail explains the write's failure; the others were cancelled after it.
  let firstFailure: MinikvError | undefined;
  const sinks = targets.map(() => new PassThrough({ highWaterMark: limits.streamChunkBytes }));
  const votes = targets.map((volumeId, i) =>
    deps.cluster.pool
      .client(volumeId)
      .prepare(header, sinks[i] as PassThrough, { signal: failed.signal })
      .catch((err: unknown) => {
        if (failed.signal.aborted) throw toMinikvError(err);
        firstFailure = volumeFailure(deps, volumeId, err);
        failed.abort();
        throw firstFailure;
      }),
  );
  // Settles (and so handles) every vote from the start: one may fail while the body streams.
  const settledVotes = Promise.allSettled(votes);
  try {
    const sent = await pump(chunks, size, sinks, failed.signal);
    const results = (await settledVotes).map((s) => {
      if (s.status === "rejected") throw s.reason;
      return s.value;
    });
    checkVotes(results, sent, header);
    deps.metrics.bytesIn.inc(sent.size);
    return sent;
  } catch (err) {
    failed.abort();
    for (const sink of sinks) sink.destroy();
    await settledVotes;
    abortEverywhere(deps, targets, header.txid);
    deps.metrics.twoPhase.inc({ outcome: "aborted" });
    // A volume that failed first explains everything after it (the pump stopping, siblings
    // cancelled); otherwise the error is the pump's own (client gone, too large...).
    throw firstFailure ?? toMinikvError(err);
  }
}

/** Length and CRC32C of a whole body, checked against its declared length. */
function measure(chunks: readonly Uint8Array[], declaredSize: number): Prepared {
  let sent: Prepared = { size: 0, crc32c: 0 };
  for (const chunk of chunks) sent = account(sent, chunk, declaredSize);
  return checkLength(sent, declaredSize);
}

/** Adds one chunk to what passed; fails once the body is longer than it may be. */
function account(sent: Prepared, chunk: Uint8Array, declaredSize: number | null): Prepared {
  const size = sent.size + chunk.length;
  if (size > limits.blobBytesMax)
    throw new MinikvError(ErrorCode.TOO_LARGE, `blob exceeds ${limits.blobBytesMax} bytes`);
  if (declaredSize !== null && size > declaredSize) {
    throw longerThanDeclared(declaredSize);
  }
  return { size, crc32c: crc32c(chunk, sent.crc32c) };
}

function checkLength(sent: Prepared, declaredSize: number | null): Prepared {
  if (declaredSize !== null && sent.size !== declaredSize) {
    throw new MinikvError(
      ErrorCode.SIZE_MISMATCH,
      `body has ${sent.size} bytes; Content-Length said ${declaredSize}`,
    );
  }
  return { size: sent.size, crc32c: sent.crc32c >>> 0 };
}

/** Copies the body into every sink, waiting for the slowest; returns what passed through. */
async function pump(
  chunks: AsyncIterable<Uint8Array>,
  declaredSize: number | null,
  sinks: readonly PassThrough[],
  signal: AbortSignal,
): Promise<Prepared> {
  let sent: Prepared = { size: 0, crc32c: 0 };
  // A socket delivers a body in pieces of up to 64 KiB; they are sent on in messages of
  // exactly streamChunkBytes (MessageFiller), a quarter as many per volume or fewer, each
  // with its per-message cost on both sides. Each message is joined straight into its
  // encoding (sharedChunk), shared by every volume, and reused once every volume's call has
  // sent it.
  const filler = new MessageFiller(limits.streamChunkBytes);
  const send = async ({ pieces, bytes }: FilledMessage): Promise<void> => {
    const { chunk: message, reused } = sharedChunk(pieces, bytes, sinks.length);
    // Only a new frame leaves garbage behind it (common/stream-memory.ts).
    if (!reused) noteStreamedBytes(bytes);
    const waits: Promise<unknown>[] = [];
    for (const sink of sinks) if (!sink.write(message)) waits.push(once(sink, "drain", { signal }));
    if (waits.length > 0) await Promise.all(waits).catch(() => Promise.reject(stopped()));
  };
  // Iterated by hand: leaving a `for await` early would destroy the request, and with it the
  // connection the client is waiting on for its error answer.
  const iterator = chunks[Symbol.asyncIterator]();
  try {
    for (;;) {
      const step = await iterator.next();
      if (step.done === true) break;
      const chunk = step.value;
      if (signal.aborted) throw stopped();
      sent = account(sent, chunk, declaredSize);
      for (const message of filler.add(chunk)) await send(message);
    }
    if (signal.aborted) throw stopped();
    const last = filler.finish();
    if (last !== null) await send(last);
  } catch (err) {
    if (isMinikvError(err)) throw err;
    throw clientGone(err);
  }
  const checked = checkLength(sent, declaredSize);
  for (const sink of sinks) sink.end();
  return checked;
}

function longerThanDeclared(declaredSize: number): MinikvError {
  return new MinikvError(ErrorCode.SIZE_MISMATCH, `body is longer than its Content-Length ${declaredSize}`);
}

function stopped(): MinikvError {
  return new MinikvError(ErrorCode.CLIENT_ABORTED, "the write was stopped");
}

function clientGone(cause: unknown): MinikvError {
  return new MinikvError(ErrorCode.CLIENT_ABORTED, "the client went away during the upload", { cause });
}

/** Every volume must have stored exactly the bytes that passed through this coordinator. */
function checkVotes(votes: readonly VolumePrepareVote[], sent: Prepared, header: VolumePrepareHeader): void {
  for (const vote of votes) {
    if (vote.txid !== header.txid || vote.size !== sent.size || vote.crc32c >>> 0 !== sent.crc32c) {
      throw new MinikvError(
        ErrorCode.CHECKSUM_MISMATCH,
        `volume ${vote.volumeId} stored ${vote.size} bytes with CRC32C ${vote.crc32c}; ` +
          `${sent.size} bytes with CRC32C ${sent.crc32c} were sent`,
      );
    }
  }
}

async function commitWrite(
  deps: BlobWriteDeps,
  write: BlobWrite,
  targets: readonly string[],
  txid: string,
  prepared: Prepared,
): Promise<BlobMeta> {
  let committed;
  try {
    committed = await deps.cluster.store.commit({
      op: "putBlob",
      key: write.key,
      size: prepared.size,
      crc32c: prepared.crc32c,
      contentType: write.contentType,
      replicas: [...targets],
      txid,
      atMs: deps.now(),
    });
  } catch (err) {
    // A refusal is a definite "no"; anything else may still commit: the volumes will ask.
    if (!isMinikvError(err, ErrorCode.CONFLICT)) {
      deps.metrics.twoPhase.inc({ outcome: "unknown" });
      throw err;
    }
    // Refused because presumed abort decided first (the write took longer than the volumes'
    // prepared timeout): nothing is visible; the client may simply retry.
    abortEverywhere(deps, targets, txid);
    deps.metrics.twoPhase.inc({ outcome: "aborted" });
    throw new MinikvError(
      ErrorCode.UNAVAILABLE,
      `the write was aborted before its commit (${err.message}); retry`,
      {
        cause: err,
      },
    );
  }
  const { blob, previous } = committed.result;
  deps.metrics.twoPhase.inc({ outcome: "committed" });
  for (const volumeId of targets) {
    followUp(
      deps,
      () => `commit ${txid} on ${volumeId}`,
      () => deps.cluster.pool.client(volumeId).commit(txid, blob.version),
    );
  }
  if (previous !== null) reclaim(deps, previous);
  return blob;
}

/** Frees an older version's bytes on the volumes that held it (after an overwrite or a delete). */
export function reclaim(deps: Pick<BlobWriteDeps, "cluster" | "logger">, previous: BlobMeta): void {
  for (const volumeId of previous.replicas) {
    followUp(
      deps,
      () => `reclaim ${previous.key}@${previous.version} on ${volumeId}`,
      () => deps.cluster.pool.client(volumeId).delete(previous.key, previous.version),
    );
  }
}

function abortEverywhere(deps: BlobWriteDeps, targets: readonly string[], txid: string): void {
  for (const volumeId of targets) {
    followUp(
      deps,
      () => `abort ${txid} on ${volumeId}`,
      () => deps.cluster.pool.client(volumeId).abort(txid),
    );
  }
}

/**
 * A call the client does not wait for, retried a few times. If every attempt fails the
 * volume still converges: prepared records are resolved by asking the coordinators, and
 * unreclaimed bytes are found by `verify` as orphans and freed by `repair`. `what` names
 * the call in the log, built only if it is logged; every PUT makes three of these calls.
 */
function followUp(
  deps: Pick<BlobWriteDeps, "logger">,
  what: () => string,
  call: () => Promise<unknown>,
  attempt = 1,
): void {
  const retry = (err: unknown): void => {
    if (attempt >= blobWriteBounds.followUpAttempts) {
      deps.logger.warn({ err, what: what() }, "background volume call failed; left to recovery");
      return;
    }
    setTimeout(() => followUp(deps, what, call, attempt + 1), blobWriteBounds.followUpRetryMs * attempt);
  };
  try {
    call().then(undefined, retry);
  } catch (err) {
    retry(err);
  }
}
