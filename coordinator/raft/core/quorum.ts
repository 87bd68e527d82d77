/**
 * Majority arithmetic over a voter set (§5.2, §5.3). Learners never appear here: callers
 * pass voters only.
 */
import type { NodeId } from "./types.js";

export function quorumSize(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/**
 * The highest index replicated on a majority of voters: sort the match indexes descending
 * and take the quorum-th one. A voter with no known match counts as 0.
 */
export function majorityIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  if (voters.length === 0) return 0;
  const matches = voters.map(matchOf).sort((a, b) => b - a);
  return matches[quorumSize(voters.length) - 1] ?? 0;
}

export type VoteOutcome = "won" | "lost" | "pending";

/** Tally of an election over `voters`: won on a majority of grants, lost on a majority of rejections. */
export function voteOutcome(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteOutcome {
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === true) granted++;
    else if (vote === false) rejected++;
  }
  const needed = quorumSize(voters.length);
  if (granted >= needed) return "won";
  if (rejected >= needed || voters.length - rejected < needed) return "lost";
  return "pending";
}

/** True when `active` covers a majority of `voters`. */
export function isQuorum(voters: readonly NodeId[], active: (id: NodeId) => boolean): boolean {
  let count = 0;
  for (const id of voters) if (active(id)) count++;
  return count >= quorumSize(voters.length);
}
