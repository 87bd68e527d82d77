/** Builds Messages with every unused field at its zero value, as types.ts requires. */
import type { Message, MessageType, NodeId } from "./types.js";

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
