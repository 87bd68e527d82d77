/** Small comparisons of replica lists and blob versions that the moving jobs share. */
import type { BlobMeta } from "../metadata-commands.js";

/** Same volumes, in any order. */
export function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((id) => b.includes(id));
}

/** The blob is still the one a plan was made from: same version, same replicas in the same order. */
export function sameBlob(fresh: BlobMeta | null, planned: BlobMeta): fresh is BlobMeta {
  return (
    fresh !== null &&
    fresh.version === planned.version &&
    fresh.replicas.length === planned.replicas.length &&
    fresh.replicas.every((id, i) => id === planned.replicas[i])
  );
}

/** `ids` ordered by their position in `order` (ids not in it last, in their own order). */
export function inOrderOf(ids: readonly string[], order: readonly string[]): string[] {
  const rank = (id: string): number => {
    const at = order.indexOf(id);
    return at < 0 ? order.length : at;
  };
  return [...ids].sort((a, b) => rank(a) - rank(b));
}
