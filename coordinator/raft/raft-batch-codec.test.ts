import type * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { loadProto } from "../../common/grpc.js";
import type { ProtoGrpcType } from "../../proto/generated/raft.js";
import type { MessageBatch__Output } from "../../proto/generated/minikv/raft/v1/MessageBatch.js";
import type { Message, MessageType } from "./core/types.js";
import { decodeBatch, encodeBatch, type InboundBatch } from "./raft-batch-codec.js";
import { decodeMessage, encodeMessage } from "./raft-message-codec.js";
import { blankMessage } from "./transport.conformance.js";

/** proto-loader's (protobufjs's) own serializers of MessageBatch, as the generic path uses them. */
const generic = (
  loadProto<ProtoGrpcType>("raft.proto").minikv.raft.v1.RaftInternal.service as grpc.ServiceDefinition
)["Stream"] as grpc.MethodDefinition<MessageBatch__Output | Record<string, unknown>, unknown>;

const ALL_TYPES: readonly MessageType[] = [
  "preVote",
  "preVoteResp",
  "vote",
  "voteResp",
  "append",
  "appendResp",
  "heartbeat",
  "heartbeatResp",
  "snapshot",
  "timeoutNow",
  "propose",
  "readIndex",
  "readIndexResp",
  "transferLeader",
];

/** Every field set, numbers up to 2^53 - 1, ids outside ASCII. */
const messages: readonly Message[] = [
  ...ALL_TYPES.map((type, i) => blankMessage(type, "coord-1", "coord-2", { term: i + 1 })),
  blankMessage("append", "a", "b", {
    term: 7,
    logTerm: 6,
    index: 300,
    commit: 299,
    entries: [
      { term: 7, index: 301, type: "normal", data: Uint8Array.from({ length: 300 }, (_, i) => i & 0xff) },
      { term: 7, index: 302, type: "normal", data: new Uint8Array() },
      { term: 7, index: 303, type: "confChange", data: Uint8Array.from([1, 2, 3]) },
    ],
  }),
  blankMessage("appendResp", "b", "a", {
    term: Number.MAX_SAFE_INTEGER,
    index: 2 ** 32 + 5,
    reject: true,
    rejectHint: 2 ** 40,
    rejectTermHint: 129,
  }),
  blankMessage("snapshot", "ä-1", "b", {
    term: 3,
    snapshot: { index: 10_000, term: 3, confState: { voters: ["a", "ä-1"], learners: ["c"] } },
  }),
  blankMessage("heartbeat", "a", "b", { context: Uint8Array.from([9, 8, 7]), commit: 16_384 }),
];

function decoded(bytes: Buffer): Message[] {
  const batch = decodeBatch(bytes);
  if (!batch.ok) throw batch.error;
  return batch.messages;
}

function refusal(bytes: Buffer): InboundBatch {
  return decodeBatch(bytes);
}

/** Bytes of a batch of one message, built by protobufjs from wire-form fields. */
function genericBytes(message: Record<string, unknown>): Buffer {
  return generic.requestSerialize({ messages: [message], from_address: "" });
}

const wireBase = { type: "APPEND", from: "a", to: "b", term: "1" };

describe("raft batch codec (proto/raft.proto MessageBatch without proto-loader objects)", () => {
  it("round-trips every message type and field", () => {
    const bytes = encodeBatch({ messages, fromAddress: "127.0.0.1:7000" });
    const batch = decodeBatch(bytes);
    expect(batch).toEqual({ ok: true, messages, fromAddress: "127.0.0.1:7000" });
  });

  it("writes bytes protobufjs reads as the same messages", () => {
    const bytes = encodeBatch({ messages, fromAddress: "127.0.0.1:7000" });
    const wire = generic.requestDeserialize(bytes) as MessageBatch__Output;
    expect(wire.from_address).toBe("127.0.0.1:7000");
    expect(wire.messages.map(decodeMessage)).toEqual(messages);
  });

  it("reads the bytes protobufjs writes (a peer on the generic path)", () => {
    const bytes = generic.requestSerialize({ messages: messages.map(encodeMessage), from_address: "x:1" });
    expect(decoded(bytes)).toEqual(messages);
  });

  it("skips fields it does not know, of every wire type", () => {
    const known = encodeBatch({ messages: [messages[0] as Message], fromAddress: "" });
    // field 15 varint, field 16 fixed64, field 17 length-delimited, field 18 fixed32
    const unknown = Buffer.from([0x78, 0x96, 0x01, 0x81, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0x8a, 0x01, 2, 0, 0]);
    const extra = Buffer.from([0x95, 0x01, 1, 2, 3, 4]);
    expect(decoded(Buffer.concat([unknown, known, extra]))).toEqual([messages[0]]);
  });

  it.each([
    ["an unknown type", genericBytes({ ...wireBase, type: "MESSAGE_TYPE_UNSPECIFIED" })],
    ["a missing sender", genericBytes({ ...wireBase, from: "" })],
    ["a missing receiver", genericBytes({ ...wireBase, to: "" })],
    ["a term beyond 2^53", genericBytes({ ...wireBase, term: "18446744073709551615" })],
    ["an index of 2^53", genericBytes({ ...wireBase, index: String(2 ** 53) })],
    [
      "a snapshot without configuration",
      genericBytes({ ...wireBase, type: "SNAPSHOT", snapshot: { index: "1", term: "1" } }),
    ],
    ["an unknown entry type", genericBytes({ ...wireBase, entries: [{ term: "1", index: "1", type: 7 }] })],
    ["a truncated batch", encodeBatch({ messages, fromAddress: "x" }).subarray(0, 40)],
    ["a length past the end", Buffer.from([0x0a, 0x7f, 0x08, 0x05])],
    ["an unterminated varint", Buffer.from([0x0a, 0x03, 0x20, 0xff, 0xff])],
    ["a known field of the wrong wire type", Buffer.from([0x0a, 0x02, 0x0a, 0x00])],
    ["a group", Buffer.from([0x0b])],
  ])("refuses %s with INVALID_ARGUMENT, without throwing", (_name, bytes) => {
    const batch = refusal(bytes);
    expect(batch.ok).toBe(false);
    if (!batch.ok) expect(batch.error.code).toBe("INVALID_ARGUMENT");
  });

  it("decodes entry data and contexts as views of the received bytes (no copy per entry)", () => {
    const bytes = encodeBatch({ messages, fromAddress: "" });
    const append = decoded(bytes).find((m) => m.entries.length > 0);
    expect(append?.entries[0]?.data.buffer).toBe(bytes.buffer);
  });
});
