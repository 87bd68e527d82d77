/** Membership changes one server at a time (dissertation §4.1): encoding and effect. */
import { describe, expect, it } from "vitest";
import {
  applyConfChange,
  confChangeProblem,
  decodeConfChange,
  encodeConfChange,
  sameConfState,
} from "./conf-change.js";

const conf = { voters: ["a", "b"], learners: ["c"] };

describe("conf changes", () => {
  it("round-trips through entry data and rejects anything else", () => {
    const change = { type: "addLearner" as const, nodeId: "d", context: '{"address":"h:1"}' };
    expect(decodeConfChange(encodeConfChange(change))).toEqual(change);
    expect(() =>
      decodeConfChange(new TextEncoder().encode('{"type":"boom","nodeId":"d","context":""}')),
    ).toThrow();
    expect(() => decodeConfChange(new Uint8Array([0xff]))).toThrow();
  });

  it("§4.2.1: add as learner, promote, remove", () => {
    const added = applyConfChange(conf, { type: "addLearner", nodeId: "d", context: "" });
    expect(added).toEqual({ voters: ["a", "b"], learners: ["c", "d"] });
    const promoted = applyConfChange(added, { type: "promote", nodeId: "c", context: "" });
    expect(promoted).toEqual({ voters: ["a", "b", "c"], learners: ["d"] });
    expect(applyConfChange(promoted, { type: "remove", nodeId: "a", context: "" })).toEqual({
      voters: ["b", "c"],
      learners: ["d"],
    });
  });

  it("changes that do not fit are reported and leave the configuration unchanged", () => {
    expect(confChangeProblem(conf, { type: "addLearner", nodeId: "a", context: "" })).toMatch(/already/);
    expect(confChangeProblem(conf, { type: "promote", nodeId: "a", context: "" })).toMatch(/not a learner/);
    expect(confChangeProblem(conf, { type: "remove", nodeId: "z", context: "" })).toMatch(/not a member/);
    const single = { voters: ["a"], learners: [] };
    expect(confChangeProblem(single, { type: "remove", nodeId: "a", context: "" })).toMatch(/last voter/);
    expect(applyConfChange(single, { type: "remove", nodeId: "a", context: "" })).toBe(single);
  });

  it("compares configurations as sets", () => {
    expect(sameConfState({ voters: ["b", "a"], learners: [] }, { voters: ["a", "b"], learners: [] })).toBe(
      true,
    );
    expect(sameConfState({ voters: ["a"], learners: ["b"] }, { voters: ["a", "b"], learners: [] })).toBe(
      false,
    );
  });
});
