/** Replication progress: probe/replicate/snapshot states and the inflight window. */
import { describe, expect, it } from "vitest";
import { Inflights } from "./inflights.js";
import { Progress, ProgressTracker } from "./progress-tracker.js";

describe("Progress", () => {
  it("probe: one message at a time; an acknowledgement unpauses it", () => {
    const pr = new Progress(5, 4, false);
    expect(pr.isPaused()).toBe(false);
    pr.sentEntries(2, 6);
    expect(pr.isPaused()).toBe(true);
    expect(pr.maybeUpdate(6)).toBe(true);
    expect(pr.isPaused()).toBe(false);
    expect([pr.match, pr.next]).toEqual([6, 7]);
  });

  it("replicate: next advances optimistically; the window bounds messages in flight", () => {
    const pr = new Progress(1, 2, false);
    pr.becomeReplicate();
    pr.sentEntries(3, 3);
    pr.sentEntries(3, 6);
    expect([pr.next, pr.isPaused()]).toEqual([7, true]);
    pr.maybeUpdate(3);
    pr.inflights.freeUpTo(3);
    expect(pr.isPaused()).toBe(false);
  });

  it("a rejection is ignored when stale and otherwise moves next back toward the hint", () => {
    const pr = new Progress(10, 4, false);
    expect(pr.maybeDecrTo(5, 2)).toBe(false); // not the probe in flight (next-1 = 9)
    expect(pr.maybeDecrTo(9, 4)).toBe(true);
    expect(pr.next).toBe(5);
    pr.match = 3;
    pr.becomeReplicate();
    expect(pr.maybeDecrTo(2, 0)).toBe(false); // below match: stale
    pr.next = 9;
    expect(pr.maybeDecrTo(8, 0)).toBe(true);
    expect(pr.next).toBe(4);
  });

  it("snapshot: paused until it lands; probing resumes after the snapshot index", () => {
    const pr = new Progress(1, 4, false);
    pr.becomeSnapshot(20);
    expect(pr.isPaused()).toBe(true);
    pr.becomeProbe();
    expect(pr.next).toBe(21);
  });

  it("the tracker follows configuration changes and keeps existing progress", () => {
    const tracker = new ProgressTracker(4);
    tracker.reset({ voters: ["a", "b"], learners: ["c"] }, 10);
    const b = tracker.get("b");
    if (b === undefined) throw new Error("b missing");
    b.match = 7;
    tracker.sync({ voters: ["a", "b", "c"], learners: ["d"] }, 12);
    expect(tracker.get("b")?.match).toBe(7);
    expect(tracker.get("c")?.isLearner).toBe(false);
    expect(tracker.get("d")).toMatchObject({ isLearner: true, next: 12 });
    tracker.sync({ voters: ["a"], learners: [] }, 12);
    expect([...tracker.progress.keys()]).toEqual(["a"]);
  });
});

describe("Inflights", () => {
  it("frees acknowledged messages in order and refuses to overflow", () => {
    const window = new Inflights(3);
    window.add(2);
    window.add(5);
    window.add(9);
    expect(window.full()).toBe(true);
    expect(() => window.add(10)).toThrow();
    window.freeUpTo(5);
    expect(window.count).toBe(1);
    window.freeFirst();
    expect(window.count).toBe(0);
  });
});
