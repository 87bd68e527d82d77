/**
 * Start-up of a driver: from what the stores hold, the state to build the core from, made
 * consistent first (state machine restored from the latest snapshot if it is behind it;
 * log entries that do not follow that snapshot dropped), and a brand-new cluster
 * bootstrapped with identical membership entries on every member.
 */
import { ErrorCode, MinikvError } from "../../common/errors.js";
import { encodeConfChange } from "./core/conf-change.js";
import type { ConfState, Entry, HardState, NodeId, RestoredState, SnapshotMeta } from "./core/types.js";
import type { StateMachine } from "./state-machine.js";
import type { PeerAddresses, RaftStorage, SnapshotInfo, SnapshotStore } from "./storage.js";

export interface StartupState {
  readonly restored: RestoredState;
  /** Term of the entry at restored.applied (for the next snapshot's metadata). */
  readonly appliedTerm: number;
  readonly snapshotIndex: number;
  /** Addresses from the stable store and the latest snapshot. */
  readonly peerAddresses: PeerAddresses;
}

function corrupt(message: string): MinikvError {
  return new MinikvError(ErrorCode.DATA_CORRUPT, `raft start-up: ${message}`);
}

/**
 * Entries every member of a new cluster writes at indexes 1..2n, term 1, committed: each
 * member added and promoted, in id order. They are no-ops where the initial configuration
 * already holds them, and they let a node that joins later (with an empty configuration)
 * replay the cluster's membership from the log.
 */
export function bootstrapEntries(members: readonly NodeId[]): Entry[] {
  const changes = [...members].sort().flatMap((nodeId) => [
    { type: "addLearner" as const, nodeId, context: "" },
    { type: "promote" as const, nodeId, context: "" },
  ]);
  return changes.map((change, i) => ({
    index: i + 1,
    term: 1,
    type: "confChange",
    data: encodeConfChange(change),
  }));
}

async function bootstrapIfNew(
  storage: RaftStorage,
  snapshot: SnapshotInfo | null,
  members: readonly NodeId[],
): Promise<void> {
  const fresh = snapshot === null && storage.lastIndex() === 0 && storage.hardState().term === 0;
  if (!fresh || members.length === 0) return;
  const entries = bootstrapEntries(members);
  const hardState: HardState = { term: 1, vote: null, commit: entries.length };
  await storage.save({ entries, hardState });
}

async function restoreStateMachine(
  snapshots: SnapshotStore,
  sm: StateMachine<unknown>,
  snapshot: SnapshotInfo,
): Promise<void> {
  const source = await snapshots.open(snapshot.meta.index);
  try {
    await sm.restore(snapshot.meta.index, source.chunks());
  } finally {
    await source.close();
  }
}

/** The entries after the snapshot, dropping (durably) a log that does not follow it. */
async function entriesAfter(storage: RaftStorage, snapshot: SnapshotMeta | null): Promise<Entry[]> {
  const first = storage.firstIndex();
  const last = storage.lastIndex();
  if (snapshot === null) {
    if (first !== 1) throw corrupt(`log starts at ${first} without a snapshot`);
    return storage.entries(1, last + 1);
  }
  const after = snapshot.index + 1;
  if (first > after) throw corrupt(`log starts at ${first}, after the latest snapshot at ${snapshot.index}`);
  const anchor =
    first <= snapshot.index && last >= snapshot.index ? await storage.entries(snapshot.index, after) : [];
  const follows = first === after || anchor[0]?.term === snapshot.term;
  if (!follows) {
    await storage.save({ resetTo: snapshot.index });
    return [];
  }
  return last >= after ? storage.entries(after, last + 1) : [];
}

export async function loadStartupState(
  storage: RaftStorage,
  snapshots: SnapshotStore,
  sm: StateMachine<unknown>,
  bootstrapMembers: readonly NodeId[],
): Promise<StartupState> {
  const snapshot = await snapshots.latest();
  await bootstrapIfNew(storage, snapshot, bootstrapMembers);
  if (snapshot !== null && sm.appliedIndex() < snapshot.meta.index)
    await restoreStateMachine(snapshots, sm, snapshot);
  const entries = await entriesAfter(storage, snapshot?.meta ?? null);
  const base = snapshot?.meta.index ?? 0;
  const lastIndex = base + entries.length;
  const applied = sm.appliedIndex();
  if (applied > lastIndex)
    throw corrupt(`state machine applied ${applied}, past the log's last index ${lastIndex}`);
  const hard = storage.hardState();
  const hardState: HardState = { ...hard, commit: Math.min(Math.max(hard.commit, applied), lastIndex) };
  const appliedTerm =
    applied === base ? (snapshot?.meta.term ?? 0) : (entries[applied - base - 1]?.term ?? 0);
  const initialConfState: ConfState = { voters: [...bootstrapMembers].sort(), learners: [] };
  return {
    restored: { hardState, snapshot: snapshot?.meta ?? null, entries, initialConfState, applied },
    appliedTerm,
    snapshotIndex: base,
    peerAddresses: { ...(snapshot?.peerAddresses ?? {}), ...storage.peerAddresses() },
  };
}
