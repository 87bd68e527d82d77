/**
 * The commit step of a move (repair and rebalance): with the new copies in place, the new
 * replica list goes through Raft, and only then are dropped copies deleted. If the blob changed
 * meanwhile (overwritten, deleted, or moved by someone else) the copies just made are deleted
 * again and the blob is left as it is: it stays readable at every step.
 */
import { ErrorCode, isMinikvError } from "../../common/errors.js";
import type { BlobMeta } from "../metadata-commands.js";
import { dropCopy } from "./blob-copy.js";
import type { ClusterAccess } from "./cluster-access.js";
import { sameBlob } from "./replica-lists.js";

export type MoveOutcome =
  | { readonly committed: true; readonly dropped: number; readonly dropFailed: number }
  | { readonly committed: false };

export async function commitMove(
  access: ClusterAccess,
  blob: BlobMeta,
  move: {
    readonly replicas: readonly string[];
    readonly copied: readonly string[];
    readonly drop: readonly string[];
  },
  signal: AbortSignal,
): Promise<MoveOutcome> {
  // setReplicas checks only the version: a replica list changed by another mover is caught here.
  if (!sameBlob(await access.getBlob(blob.key), blob)) {
    await undoCopies(access, blob, move.copied, signal);
    return { committed: false };
  }
  try {
    await access.setReplicas(blob.key, blob.version, move.replicas);
  } catch (err) {
    if (!isMinikvError(err, ErrorCode.CONFLICT) && !isMinikvError(err, ErrorCode.KEY_NOT_FOUND)) throw err;
    await undoCopies(access, blob, move.copied, signal);
    return { committed: false };
  }
  let dropped = 0;
  for (const volumeId of move.drop) if (await dropCopy(access, blob, volumeId, signal)) dropped += 1;
  return { committed: true, dropped, dropFailed: move.drop.length - dropped };
}

/** Deletes copies made for a move that did not happen, unless the current metadata uses them. */
export async function undoCopies(
  access: ClusterAccess,
  blob: BlobMeta,
  copied: readonly string[],
  signal: AbortSignal,
): Promise<void> {
  if (copied.length === 0) return;
  const fresh = await access.getBlob(blob.key);
  for (const volumeId of copied) {
    if (fresh?.version === blob.version && fresh.replicas.includes(volumeId)) continue;
    await dropCopy(access, blob, volumeId, signal);
  }
}
