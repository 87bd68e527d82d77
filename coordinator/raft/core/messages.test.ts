/** Structural validation of messages from the network. */
import { describe, expect, it } from "vitest";
import { isWellFormed, makeMessage } from "./messages.js";
import { bytes } from "./test-network.js";

const entry = (index: number, term: number) => ({ index, term, type: "normal" as const, data: bytes("x") });

describe("isWellFormed", () => {
  it("accepts contiguous appends and rejects gaps, term regressions and future terms", () => {
    const base = { type: "append" as const, from: "a", to: "b", term: 3, index: 4, logTerm: 2 };
    expect(isWellFormed(makeMessage({ ...base, entries: [entry(5, 2), entry(6, 3)] }))).toBe(true);
    expect(isWellFormed(makeMessage({ ...base, entries: [entry(6, 2)] }))).toBe(false);
    expect(isWellFormed(makeMessage({ ...base, entries: [entry(5, 1)] }))).toBe(false);
    expect(isWellFormed(makeMessage({ ...base, entries: [entry(5, 4)] }))).toBe(false);
  });

  it("rejects negative or fractional numbers and snapshots without metadata", () => {
    expect(isWellFormed(makeMessage({ type: "heartbeat", from: "a", to: "b", term: -1 }))).toBe(false);
    expect(isWellFormed(makeMessage({ type: "heartbeat", from: "a", to: "b", commit: 1.5 }))).toBe(false);
    expect(isWellFormed(makeMessage({ type: "snapshot", from: "a", to: "b", term: 1 }))).toBe(false);
  });
});
