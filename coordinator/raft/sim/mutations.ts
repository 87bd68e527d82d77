import type { RawNode, Ready, ReadState } from "../core/types.js";
import type { RawNodeFactory } from "./sim-node.js";

/**
 * Deliberately broken variants of a correct core, used to show that the simulator's
 * checkers catch the kind of bug they exist for (a checker that never fails proves nothing).
 * - forgetVote: the vote is never persisted, so a crash lets a node vote twice in a term
 *   (Figure 2 "persistent state"; expect an election safety violation).
 * - localReads: ReadIndex answers at once with the local commit index, without the leader
 *   confirming it still leads (§6.4; expect stale reads, a linearizability violation).
 * - lyingDisk: at restart the last log entries are gone although they were fsynced (expect
 *   lost acknowledged writes: linearizability or state machine safety violations).
 */
export type Mutation = "forgetVote" | "localReads" | "lyingDisk";

type Tamper = (ready: Ready) => Ready;

/**
 * Delegates to `inner`, rewriting Readys with `tamper` (the originals are kept for advance).
 * With `localReads`, readIndex is answered in the next Ready with the local commit index.
 */
function wrap(inner: RawNode, tamper: Tamper, localReads: boolean): RawNode {
  const originals = new Map<Ready, Ready>();
  const pendingReads: ReadState[] = [];
  const node: RawNode = {
    tick: () => inner.tick(),
    advanceLeaseClock: (ticks) => inner.advanceLeaseClock(ticks),
    heartbeat: () => inner.heartbeat(),
    step: (m) => inner.step(m),
    propose: (data) => inner.propose(data),
    proposeConfChange: (change) => inner.proposeConfChange(change),
    readIndex: (context) => {
      if (localReads) pendingReads.push({ index: inner.status().commit, context });
      else inner.readIndex(context);
    },
    transferLeader: (to) => inner.transferLeader(to),
    campaign: () => inner.campaign(),
    compact: (meta) => inner.compact(meta),
    reportUnreachable: (id) => inner.reportUnreachable(id),
    reportSnapshot: (id, ok) => inner.reportSnapshot(id, ok),
    hasReady: () => inner.hasReady() || pendingReads.length > 0,
    ready: () => {
      const original = inner.ready();
      const tampered = tamper({
        ...original,
        readStates: [...original.readStates, ...pendingReads.splice(0)],
      });
      originals.set(tampered, original);
      return tampered;
    },
    advance: (ready) => {
      const original = originals.get(ready);
      originals.delete(ready);
      inner.advance(original ?? ready);
    },
    takeEarlyMessages: () => inner.takeEarlyMessages(),
    status: () => inner.status(),
  };
  return node;
}

export function mutateFactory(factory: RawNodeFactory, mutation: Mutation): RawNodeFactory {
  switch (mutation) {
    case "forgetVote":
      return (config, restored) =>
        wrap(
          factory(config, restored),
          (ready) =>
            ready.hardState === null ? ready : { ...ready, hardState: { ...ready.hardState, vote: null } },
          false,
        );
    case "localReads":
      return (config, restored) => wrap(factory(config, restored), (ready) => ready, true);
    case "lyingDisk": {
      const started = new Set<string>();
      return (config, restored) => {
        // The first start reads what was just written at bootstrap: lie only on restarts.
        if (!started.has(config.id)) {
          started.add(config.id);
          return factory(config, restored);
        }
        const keep = Math.max(0, restored.entries.length - 2);
        const lastKept = restored.entries[keep - 1]?.index ?? restored.snapshot?.index ?? 0;
        const applied = Math.min(restored.applied, lastKept);
        // The state machine already holds what was applied: lose only entries past it.
        if (applied < restored.applied) return factory(config, restored);
        const hardState = { ...restored.hardState, commit: Math.min(restored.hardState.commit, lastKept) };
        return factory(config, { ...restored, hardState, entries: restored.entries.slice(0, keep) });
      };
    }
  }
}
