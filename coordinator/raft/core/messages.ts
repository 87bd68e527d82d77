/** Builds Messages with every unused field at its zero value, as types.ts requires. */
import type { Entry, Message, MessageType, NodeId } from "./types.js";

const empty = new Uint8Array(0);

export type MessageFields = Partial<Omit<Message, "type" | "from" | "to">> & {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
};

export function makeMessage(fields: MessageFields): Message {
  return {
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    rejectTermHint: 0,
    snapshot: null,
    context: empty,
    ...fields,
  };
}

const isIndex = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;

/**
 * Structural checks on a message from the network; one that fails is dropped rather than
 * allowed to break an invariant of the log (entries must follow prev contiguously, with
 * terms that never decrease and never exceed the sender's term).
 */
export function isWellFormed(m: Message): boolean {
  if (typeof m.from !== "string" || typeof m.to !== "string" || m.from.length === 0) return false;
  if (![m.term, m.logTerm, m.index, m.commit, m.rejectHint, m.rejectTermHint].every(isIndex)) return false;
  const entries: readonly Entry[] = m.entries;
  if (!Array.isArray(entries) || !(m.context instanceof Uint8Array)) return false;
  if (m.type === "snapshot")
    return m.snapshot !== null && isIndex(m.snapshot.index) && isIndex(m.snapshot.term);
  if (m.type !== "append" && m.type !== "propose") return true;
  let lastTerm = m.logTerm;
  for (let i = 0; i < m.entries.length; i++) {
    const entry = m.entries[i];
    if (entry === undefined) return false;
    if (!(entry.data instanceof Uint8Array)) return false;
    if (m.type === "propose") continue;
    if (entry.index !== m.index + 1 + i || entry.term < lastTerm || entry.term > m.term) return false;
    lastTerm = entry.term;
  }
  return true;
}
