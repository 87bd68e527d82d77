/**
 * Conversion between the core's Message and the RaftInternal wire form (proto/raft.proto).
 * Decoding validates everything a peer sends: a malformed message is INVALID_ARGUMENT,
 * never a crash and never a half-filled Message.
 */
import { ErrorCode, MinikvError } from "../../common/errors.js";
import type { ConfState, Entry, Message, MessageType, SnapshotMeta } from "./core/types.js";
import type { Entry__Output } from "../../proto/generated/minikv/raft/v1/Entry.js";
import type { MessageType__Output } from "../../proto/generated/minikv/raft/v1/MessageType.js";
import type { RaftMessage, RaftMessage__Output } from "../../proto/generated/minikv/raft/v1/RaftMessage.js";
import type { SnapshotMeta__Output } from "../../proto/generated/minikv/raft/v1/SnapshotMeta.js";

const WIRE_TYPES = {
  preVote: "PRE_VOTE",
  preVoteResp: "PRE_VOTE_RESP",
  vote: "VOTE",
  voteResp: "VOTE_RESP",
  append: "APPEND",
  appendResp: "APPEND_RESP",
  heartbeat: "HEARTBEAT",
  heartbeatResp: "HEARTBEAT_RESP",
  snapshot: "SNAPSHOT",
  timeoutNow: "TIMEOUT_NOW",
  propose: "PROPOSE",
  readIndex: "READ_INDEX",
  readIndexResp: "READ_INDEX_RESP",
  transferLeader: "TRANSFER_LEADER",
} as const satisfies Record<MessageType, MessageType__Output>;

const CORE_TYPES = new Map<string, MessageType>(
  Object.entries(WIRE_TYPES).map(([core, wire]) => [wire, core as MessageType]),
);

/** The RaftInternal RPC that carries a message type (proto/raft.proto). */
export type RaftRpc = "AppendEntries" | "RequestVote" | "TimeoutNow" | "Send";

export function rpcOf(type: MessageType): RaftRpc {
  switch (type) {
    case "append":
    case "appendResp":
    case "heartbeat":
    case "heartbeatResp":
      return "AppendEntries";
    case "vote":
    case "voteResp":
    case "preVote":
    case "preVoteResp":
      return "RequestVote";
    case "timeoutNow":
    case "transferLeader":
      return "TimeoutNow";
    case "snapshot":
    case "propose":
    case "readIndex":
    case "readIndexResp":
      return "Send";
  }
}

function invalid(message: string): MinikvError {
  return new MinikvError(ErrorCode.INVALID_ARGUMENT, `raft message: ${message}`);
}

function wireNumber(value: string, field: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw invalid(`${field} is out of range`);
  return n;
}

function snapshotToWire(meta: SnapshotMeta): NonNullable<RaftMessage["snapshot"]> {
  return {
    index: meta.index,
    term: meta.term,
    conf_state: { voters: [...meta.confState.voters], learners: [...meta.confState.learners] },
  };
}

export function encodeMessage(message: Message): RaftMessage {
  return {
    type: WIRE_TYPES[message.type],
    from: message.from,
    to: message.to,
    term: message.term,
    log_term: message.logTerm,
    index: message.index,
    entries: message.entries.map((e) => ({
      term: e.term,
      index: e.index,
      type: e.type === "confChange" ? "CONF_CHANGE" : "NORMAL",
      data: e.data,
    })),
    commit: message.commit,
    reject: message.reject,
    reject_hint: message.rejectHint,
    reject_term_hint: message.rejectTermHint,
    snapshot: message.snapshot === null ? null : snapshotToWire(message.snapshot),
    context: message.context,
  };
}

function decodeEntry(e: Entry__Output): Entry {
  if (e.type !== "NORMAL" && e.type !== "CONF_CHANGE") throw invalid("unknown entry type");
  return {
    term: wireNumber(e.term, "entry term"),
    index: wireNumber(e.index, "entry index"),
    type: e.type === "CONF_CHANGE" ? "confChange" : "normal",
    data: new Uint8Array(e.data.buffer, e.data.byteOffset, e.data.byteLength),
  };
}

function decodeConfState(conf: SnapshotMeta__Output["conf_state"]): ConfState {
  if (conf === null) throw invalid("snapshot without a configuration");
  return { voters: [...conf.voters], learners: [...conf.learners] };
}

export function decodeSnapshotMeta(meta: SnapshotMeta__Output): SnapshotMeta {
  return {
    index: wireNumber(meta.index, "snapshot index"),
    term: wireNumber(meta.term, "snapshot term"),
    confState: decodeConfState(meta.conf_state),
  };
}

export function decodeMessage(wire: RaftMessage__Output): Message {
  const type = CORE_TYPES.get(wire.type);
  if (type === undefined) throw invalid(`unknown type ${wire.type}`);
  if (wire.from.length === 0 || wire.to.length === 0) throw invalid("missing from/to");
  return {
    type,
    from: wire.from,
    to: wire.to,
    term: wireNumber(wire.term, "term"),
    logTerm: wireNumber(wire.log_term, "logTerm"),
    index: wireNumber(wire.index, "index"),
    entries: wire.entries.map(decodeEntry),
    commit: wireNumber(wire.commit, "commit"),
    reject: wire.reject,
    rejectHint: wireNumber(wire.reject_hint, "rejectHint"),
    rejectTermHint: wireNumber(wire.reject_term_hint, "rejectTermHint"),
    snapshot: wire.snapshot === null ? null : decodeSnapshotMeta(wire.snapshot),
    context: new Uint8Array(wire.context.buffer, wire.context.byteOffset, wire.context.byteLength),
  };
}
