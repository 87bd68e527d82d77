import { describe, expect, it } from "vitest";
import type { RaftMessage__Output } from "../../proto/generated/minikv/raft/v1/RaftMessage.js";
import { decodeMessage, encodeMessage, rpcOf } from "./raft-message-codec.js";
import { blankMessage } from "./transport.conformance.js";

function wire(fields: Partial<RaftMessage__Output>): RaftMessage__Output {
  return {
    type: "APPEND",
    from: "a",
    to: "b",
    term: "1",
    log_term: "0",
    index: "0",
    entries: [],
    commit: "0",
    reject: false,
    reject_hint: "0",
    reject_term_hint: "0",
    snapshot: null,
    context: Buffer.alloc(0),
    ...fields,
  };
}

describe("raft message codec", () => {
  it("maps the four named RPCs of the issue and Send for the rest", () => {
    expect(rpcOf("append")).toBe("AppendEntries");
    expect(rpcOf("preVote")).toBe("RequestVote");
    expect(rpcOf("timeoutNow")).toBe("TimeoutNow");
    expect(rpcOf("readIndex")).toBe("Send");
  });

  it("encodes every field", () => {
    const message = blankMessage("append", "a", "b", {
      term: 3,
      entries: [{ index: 4, term: 3, type: "confChange", data: Uint8Array.from([1]) }],
    });
    const encoded = encodeMessage(message);
    expect(encoded.type).toBe("APPEND");
    expect(encoded.entries?.[0]?.type).toBe("CONF_CHANGE");
  });

  it.each([
    ["an unknown type", wire({ type: "MESSAGE_TYPE_UNSPECIFIED" })],
    ["a missing sender", wire({ from: "" })],
    ["a negative term", wire({ term: "-1" })],
    ["a term beyond 2^53", wire({ term: "18446744073709551615" })],
    ["a snapshot without configuration", wire({ snapshot: { index: "1", term: "1", conf_state: null } })],
  ])("refuses %s with INVALID_ARGUMENT", (_name, message) => {
    expect(() => decodeMessage(message)).toThrowError(
      expect.objectContaining({ code: "INVALID_ARGUMENT" }) as Error,
    );
  });
});
