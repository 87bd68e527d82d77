/**
 * Membership changes one server at a time (dissertation §4.1): the wire form of a
 * ConfChange inside a log entry, and its effect on a ConfState.
 */
import type { ConfChange, ConfState, NodeId } from "./types.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
const changeTypes: readonly ConfChange["type"][] = ["addLearner", "promote", "remove"];

export function encodeConfChange(change: ConfChange): Uint8Array {
  return encoder.encode(
    JSON.stringify({ type: change.type, nodeId: change.nodeId, context: change.context }),
  );
}

/** Decodes entry data written by encodeConfChange; throws on anything else (a corrupt log). */
export function decodeConfChange(data: Uint8Array): ConfChange {
  const parsed: unknown = JSON.parse(decoder.decode(data));
  if (typeof parsed !== "object" || parsed === null) throw new Error("conf change: not an object");
  const { type, nodeId, context } = parsed as Record<string, unknown>;
  if (!changeTypes.includes(type as ConfChange["type"])) {
    throw new Error(`conf change: unknown type ${String(type)}`);
  }
  if (typeof nodeId !== "string" || typeof context !== "string") {
    throw new Error("conf change: nodeId and context must be strings");
  }
  return { type: type as ConfChange["type"], nodeId, context };
}

/** Why `change` cannot apply to `conf`, or null when it can. */
export function confChangeProblem(conf: ConfState, change: ConfChange): string | null {
  const isVoter = conf.voters.includes(change.nodeId);
  const isLearner = conf.learners.includes(change.nodeId);
  switch (change.type) {
    case "addLearner":
      if (change.nodeId.length === 0) return "empty node id";
      return isVoter || isLearner ? `${change.nodeId} is already a member` : null;
    case "promote":
      return isLearner ? null : `${change.nodeId} is not a learner`;
    case "remove":
      if (!isVoter && !isLearner) return `${change.nodeId} is not a member`;
      return isVoter && conf.voters.length === 1 ? "cannot remove the last voter" : null;
  }
}

/** The configuration after `change`; an invalid change leaves it as it is (every node skips it alike). */
export function applyConfChange(conf: ConfState, change: ConfChange): ConfState {
  if (confChangeProblem(conf, change) !== null) return conf;
  const without = (ids: readonly NodeId[]): NodeId[] => ids.filter((id) => id !== change.nodeId);
  switch (change.type) {
    case "addLearner":
      return { voters: [...conf.voters], learners: [...conf.learners, change.nodeId] };
    case "promote":
      return { voters: [...conf.voters, change.nodeId], learners: without(conf.learners) };
    case "remove":
      return { voters: without(conf.voters), learners: without(conf.learners) };
  }
}

export function sameConfState(a: ConfState, b: ConfState): boolean {
  const same = (x: readonly NodeId[], y: readonly NodeId[]): boolean =>
    x.length === y.length && [...x].sort().join("\n") === [...y].sort().join("\n");
  return same(a.voters, b.voters) && same(a.learners, b.learners);
}
