/** ReadIndex bookkeeping (dissertation §6.4). */
import { describe, expect, it } from "vitest";
import { ReadOnlyQueue } from "./read-only.js";
import { bytes, text } from "./test-network.js";

describe("ReadOnlyQueue", () => {
  it("collects acknowledgements per context and releases every request up to the confirmed one, in order", () => {
    const queue = new ReadOnlyQueue();
    queue.add({ index: 3, context: bytes("r1"), from: "a" });
    queue.add({ index: 4, context: bytes("r2"), from: "b" });
    expect(queue.add({ index: 9, context: bytes("r1"), from: "a" })).toBe(false); // duplicate context
    expect(text(queue.lastContext())).toBe("r2");
    expect([...(queue.recvAck("x", bytes("r2")) ?? [])]).toEqual(["x"]);
    expect(queue.recvAck("x", bytes("unknown"))).toBeNull();
    const released = queue.release(bytes("r2"));
    expect(released.map((r) => [r.index, text(r.context)])).toEqual([
      [3, "r1"],
      [4, "r2"],
    ]);
    expect(queue.size).toBe(0);
    expect(queue.lastContext().length).toBe(0);
  });
});
