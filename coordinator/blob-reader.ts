/**
 * The read path (DESIGN.md §5): the bytes of one committed version, from the first replica
 * that can serve them. A replica that is down, lacks the version or fails its CRC check is
 * skipped for the next one — also in the middle of a stream, resuming at the byte reached —
 * and the key is queued for repair. Only when every replica fails does the read fail.
 */
import { ErrorCode, MinikvError, toMinikvError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import { noteStreamedBytes } from "../common/stream-memory.js";
import { PIPE_VALUE_BYTES_MAX } from "../common/volume-client.js";
import type { BlobMetrics } from "./blob-metrics.js";
import type { ClusterState } from "./cluster-state.js";
import type { BlobMeta } from "./metadata-commands.js";
import type { ReadCache } from "./read-cache.js";

export interface BlobReadDeps {
  readonly cluster: ClusterState;
  readonly metrics: BlobMetrics;
  readonly logger: Logger;
  readonly repairQueue: RepairQueue;
  /** Small committed values already read (read-cache.ts). */
  readonly readCache: ReadCache;
}

/** Keys whose replicas failed a read, for the next repair (bounded: the oldest are dropped). */
export class RepairQueue {
  private readonly keys = new Set<string>();

  constructor(private readonly capacity = 10_000) {}

  add(key: string): void {
    if (this.keys.has(key)) return;
    if (this.keys.size >= this.capacity) {
      const oldest = this.keys.values().next();
      if (oldest.done !== true) this.keys.delete(oldest.value);
    }
    this.keys.add(key);
  }

  get size(): number {
    return this.keys.size;
  }

  /** Takes up to `count` queued keys. */
  take(count: number): string[] {
    const taken: string[] = [];
    for (const key of this.keys) {
      if (taken.length >= count) break;
      taken.push(key);
      this.keys.delete(key);
    }
    return taken;
  }
}

/**
 * The write's commit reaches volumes after the client's 201 (DESIGN.md §5), so a read right
 * after a write may find the version still prepared. Phase two is idempotent: send it now
 * and let the caller read again. True when the commit went through.
 */
async function committedNow(
  deps: BlobReadDeps,
  volumeId: string,
  blob: BlobMeta,
  error: MinikvError,
): Promise<boolean> {
  if (error.code !== ErrorCode.KEY_NOT_FOUND) return false;
  try {
    await deps.cluster.pool.client(volumeId).commit(blob.txid, blob.version);
    return true;
  } catch {
    return false;
  }
}

function replicaFailed(
  deps: BlobReadDeps,
  blob: BlobMeta,
  volumeId: string,
  position: number,
  error: MinikvError,
): void {
  deps.metrics.readFallbacks.inc({ reason: error.code });
  deps.repairQueue.add(blob.key);
  deps.metrics.repairQueued.inc();
  deps.logger.warn(
    { err: error, key: blob.key, version: blob.version, volume: volumeId, position },
    "replica failed a read; trying the next",
  );
}

/** Replicas in the order to try them: alive ones first, each group in placement order. */
export async function replicaOrder(cluster: ClusterState, blob: BlobMeta): Promise<string[]> {
  const views = new Map((await cluster.volumes()).map((v) => [v.id, v]));
  const alive = blob.replicas.filter((id) => views.get(id)?.alive === true);
  const others = blob.replicas.filter((id) => views.get(id)?.alive !== true);
  return [...alive, ...others];
}

/** One replica's bytes: a small range in one pipe answer, a larger one as a stream. */
function replicaBytes(
  deps: BlobReadDeps,
  volumeId: string,
  blob: BlobMeta,
  start: number,
  endExclusive: number,
): AsyncIterable<Buffer> {
  const client = deps.cluster.pool.client(volumeId);
  const range = { version: blob.version, offset: start, length: endExclusive - start };
  if (range.length > PIPE_VALUE_BYTES_MAX) return client.read(blob.key, range) as AsyncIterable<Buffer>;
  return (async function* () {
    yield await client.readRange(blob.key, range);
  })();
}

/**
 * Bytes [start, endExclusive) of the blob's committed version when the read cache holds that
 * version (read-cache.ts), else undefined.
 */
export function cachedBlobBytes(
  deps: BlobReadDeps,
  blob: BlobMeta,
  start: number,
  endExclusive: number,
): Buffer | undefined {
  const cached = deps.readCache.get(blob);
  if (cached === undefined) return undefined;
  deps.metrics.bytesOut.inc(endExclusive - start);
  return cached.subarray(start, endExclusive);
}

/**
 * Bytes [start, endExclusive) of a range of at most PIPE_VALUE_BYTES_MAX, in one buffer, from
 * the first replica that can serve them, in the order and with the fallbacks of a stream
 * (readBlobBytes); a whole value the read cache admits is then offered to it. A caller can send
 * the headers and the bytes in one write, with none of a stream's per-chunk steps.
 */
export async function readSmallBlobBytes(
  deps: BlobReadDeps,
  blob: BlobMeta,
  start: number,
  endExclusive: number,
): Promise<Buffer> {
  const length = endExclusive - start;
  let lastError: MinikvError | undefined;
  for (const volumeId of await replicaOrder(deps.cluster, blob)) {
    // Two tries: the second after nudging a replica that has not yet heard phase two.
    for (let attempt = 1; attempt <= 2; attempt++) {
      try {
        const range = { version: blob.version, offset: start, length };
        const chunk = await deps.cluster.pool.client(volumeId).readRange(blob.key, range);
        if (chunk.length < length) throw endedEarly(start + chunk.length, endExclusive);
        const bytes = chunk.length === length ? chunk : chunk.subarray(0, length);
        deps.metrics.bytesOut.inc(length);
        noteStreamedBytes(length);
        if (start === 0 && endExclusive === blob.size && deps.readCache.admitsRead(blob)) {
          deps.readCache.offer(blob, [bytes]);
        }
        return bytes;
      } catch (err) {
        lastError = toMinikvError(err);
        if (await triesAgain(deps, blob, volumeId, start, lastError, attempt === 1)) continue;
        break;
      }
    }
  }
  throw noReplicaServed(blob, lastError);
}

/**
 * Bytes [start, endExclusive) of the blob's committed version, streamed from the first replica
 * that can serve them (see the top). The first chunk is only yielded once a replica delivered
 * it, so a caller can hold its headers until then.
 */
export async function* readBlobBytes(
  deps: BlobReadDeps,
  blob: BlobMeta,
  start: number,
  endExclusive: number,
): AsyncGenerator<Uint8Array> {
  let position = start;
  let lastError: MinikvError | undefined;
  for (const volumeId of await replicaOrder(deps.cluster, blob)) {
    // Two tries: the second after nudging a replica that has not yet heard phase two.
    for (let attempt = 1; attempt <= 2 && position < endExclusive; attempt++) {
      const from = position;
      try {
        for await (const chunk of replicaBytes(deps, volumeId, blob, position, endExclusive)) {
          const take = Math.min(chunk.length, endExclusive - position);
          position += take;
          deps.metrics.bytesOut.inc(take);
          noteStreamedBytes(take);
          yield take === chunk.length ? chunk : chunk.subarray(0, take);
        }
        if (position < endExclusive) throw endedEarly(position, endExclusive);
        return;
      } catch (err) {
        lastError = toMinikvError(err);
        const firstTry = attempt === 1 && position === from;
        if (await triesAgain(deps, blob, volumeId, position, lastError, firstTry)) continue;
        break;
      }
    }
  }
  if (position >= endExclusive) return;
  throw noReplicaServed(blob, lastError);
}

/**
 * After a replica's read failed at `position`: true to try it once more (its first try, with
 * nothing read from it, and it had not heard phase two: nudged now); otherwise the failure is
 * counted, the key queued for repair, and the caller goes on to the next replica.
 */
async function triesAgain(
  deps: BlobReadDeps,
  blob: BlobMeta,
  volumeId: string,
  position: number,
  error: MinikvError,
  firstTry: boolean,
): Promise<boolean> {
  if (firstTry && (await committedNow(deps, volumeId, blob, error))) return true;
  replicaFailed(deps, blob, volumeId, position, error);
  return false;
}

function endedEarly(position: number, endExclusive: number): MinikvError {
  return new MinikvError(ErrorCode.DATA_CORRUPT, `replica ended at byte ${position} of ${endExclusive}`);
}

function noReplicaServed(blob: BlobMeta, lastError: MinikvError | undefined): MinikvError {
  return new MinikvError(
    ErrorCode.UNAVAILABLE,
    `no replica of "${blob.key}" could serve it (last: ${lastError?.message ?? "no replicas"})`,
    lastError === undefined ? {} : { cause: lastError },
  );
}
