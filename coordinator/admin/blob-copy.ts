/**
 * Copies a committed blob to another volume, as repair and rebalance do: read stream from a
 * good replica → prepare on the target under a fresh txid with the known size and CRC32C (the
 * target checks both) → commit at the blob's version right away. A prepare left uncommitted
 * by a crash is resolved as aborted by presumed abort: no metadata names its txid. The copy
 * is not a replica until the caller commits a replica list naming it (setReplicas).
 */
import { randomUUID } from "node:crypto";
import { ErrorCode, MinikvError, isMinikvError } from "../../common/errors.js";
import type { BlobMeta } from "../metadata-commands.js";
import { throttled, type ByteThrottle } from "./byte-throttle.js";
import type { ClusterAccess } from "./cluster-access.js";

export interface CopyOptions {
  readonly throttle?: ByteThrottle;
  readonly signal: AbortSignal;
}

/** "present": the target already served this exact version; "copied": bytes were sent. */
export type CopyOutcome = "present" | "copied";

/**
 * Puts `blob` on `targetId` from the first of `sourceIds` that can serve it. Rejects with
 * CONFLICT when the target will not serve this version (it holds a newer version or a
 * tombstone at least as new), UNAVAILABLE when no source could be copied.
 */
export async function copyBlob(
  access: ClusterAccess,
  blob: BlobMeta,
  sourceIds: readonly string[],
  targetId: string,
  options: CopyOptions,
): Promise<CopyOutcome> {
  if (await servesVersion(access, targetId, blob, options.signal)) return "present";
  let lastError: unknown = new MinikvError(ErrorCode.UNAVAILABLE, "no source replica");
  for (const sourceId of sourceIds.filter((id) => id !== targetId)) {
    try {
      await copyFrom(access, blob, sourceId, targetId, options);
      return "copied";
    } catch (err) {
      options.signal.throwIfAborted();
      if (isMinikvError(err, ErrorCode.CONFLICT)) throw err;
      lastError = err;
    }
  }
  const reason = lastError instanceof Error ? lastError.message : String(lastError);
  throw new MinikvError(
    ErrorCode.UNAVAILABLE,
    `no replica of "${blob.key}" could be copied to ${targetId}: ${reason}`,
    { cause: lastError },
  );
}

async function copyFrom(
  access: ClusterAccess,
  blob: BlobMeta,
  sourceId: string,
  targetId: string,
  options: CopyOptions,
): Promise<void> {
  const target = access.volumeClient(targetId);
  const txid = `${access.coordinatorId}.copy.${randomUUID()}`;
  const source = access
    .volumeClient(sourceId)
    .read(blob.key, { version: blob.version, signal: options.signal });
  // The prepare reads the source only once its header is out. A source that fails before then
  // keeps its error for that read (which fails the copy); without a listener from the start,
  // the error would be an 'error' event nobody handles, and that ends the process.
  source.on("error", () => undefined);
  try {
    await target.prepare(
      { txid, key: blob.key, size: blob.size, crc32c: blob.crc32c, contentType: blob.contentType },
      throttled(source, options.throttle, options.signal),
      { signal: options.signal },
    );
    await target.commit(txid, blob.version, { signal: options.signal });
  } catch (err) {
    source.destroy();
    await target.abort(txid).catch(() => undefined);
    throw err;
  }
  // A commit at a version the target already passed is durable but never served.
  if (!(await servesVersion(access, targetId, blob, options.signal))) {
    throw new MinikvError(
      ErrorCode.CONFLICT,
      `volume ${targetId} does not serve version ${blob.version} of "${blob.key}" after the copy ` +
        "(it holds a newer version or a tombstone; compaction may clear it)",
    );
  }
}

/** Whether the volume serves exactly this version of the blob (size and CRC32C agreeing). */
export async function servesVersion(
  access: ClusterAccess,
  volumeId: string,
  blob: BlobMeta,
  signal: AbortSignal,
): Promise<boolean> {
  try {
    const stat = await access.volumeClient(volumeId).stat(blob.key, { signal });
    return stat.version === blob.version && stat.size === blob.size && stat.crc32c === blob.crc32c >>> 0;
  } catch (err) {
    if (isMinikvError(err, ErrorCode.KEY_NOT_FOUND)) return false;
    throw err;
  }
}

/** Drops `volumeId`'s copies of `blob.key` up to the blob's version; false when it could not. */
export async function dropCopy(
  access: ClusterAccess,
  blob: BlobMeta,
  volumeId: string,
  signal: AbortSignal,
): Promise<boolean> {
  try {
    await access.volumeClient(volumeId).delete(blob.key, blob.version, { signal });
    return true;
  } catch {
    signal.throwIfAborted();
    return false;
  }
}
