import { describe, expect, it } from "vitest";
import { checkOperations } from "../../../coordinator/raft/sim/linearizability.js";
import { blobModel, toOperations } from "./blob-model.js";
import { acknowledgedWritesSurvive, unexpectedAnswers } from "./checks.js";
import type { BlobRecord } from "./history.js";
import { Rng } from "./rng.js";
import { generateSchedule, type ScheduleSpace } from "./schedule.js";
import { decodeValue, valueBytes } from "./values.js";

function rec(r: Partial<BlobRecord> & Pick<BlobRecord, "kind" | "callMs" | "returnMs">): BlobRecord {
  return { clientId: 0, key: "k", coordinator: "coord-1", outcome: "ok", ...r };
}

const put = (
  valueId: string,
  callMs: number,
  returnMs: number,
  outcome: BlobRecord["outcome"] = "ok",
): BlobRecord =>
  rec({
    kind: "put",
    valueId,
    callMs,
    returnMs,
    outcome,
    ...(outcome === "ok" ? { result: { kind: "put" } } : {}),
  });
const get = (valueId: string | null, callMs: number, returnMs: number): BlobRecord =>
  rec({ kind: "get", callMs, returnMs, result: { kind: "get", valueId } });
const del = (existed: boolean, callMs: number, returnMs: number): BlobRecord =>
  rec({ kind: "delete", callMs, returnMs, result: { kind: "delete", existed } });
const list = (keys: string[], callMs: number, returnMs: number): BlobRecord =>
  rec({ kind: "list", key: "", callMs, returnMs, result: { kind: "list", keys } });

function verdict(records: BlobRecord[]): string {
  return checkOperations(blobModel, toOperations(records, ["k"])).verdict;
}

/** The nemesis test's own parts (issue 6): the blob-register model, the checks, values, schedules. */
describe("nemesis parts", () => {
  describe("blob-register model", () => {
    it("accepts a history where reads see the latest write", () => {
      expect(
        verdict([put("a", 0, 1), get("a", 2, 3), del(true, 4, 5), get(null, 6, 7), list([], 8, 9)]),
      ).toBe("ok");
    });
    it("rejects a stale read after an acknowledged overwrite", () => {
      expect(verdict([put("a", 0, 1), put("b", 2, 3), get("a", 4, 5)])).toBe("illegal");
    });
    it("rejects a DELETE answering 404 while a value is there", () => {
      expect(verdict([put("a", 0, 1), del(false, 2, 3)])).toBe("illegal");
    });
    it("rejects a LIST that misses an acknowledged key", () => {
      expect(verdict([put("a", 0, 1), list([], 2, 3)])).toBe("illegal");
    });
    it("lets an unknown write take effect late, or never", () => {
      expect(verdict([put("a", 0, 1), put("b", 2, 3, "unknown"), get("a", 4, 5), get("b", 6, 7)])).toBe("ok");
      expect(verdict([put("a", 0, 1), put("b", 2, 3, "unknown"), get("a", 9, 10)])).toBe("ok");
    });
    it("ignores failed writes, so a read of one is illegal", () => {
      expect(verdict([put("a", 0, 1, "fail"), get("a", 2, 3)])).toBe("illegal");
    });
  });

  describe("checks", () => {
    it("finds a lost acknowledged write and accepts an overwritten one", () => {
      const history = [put("a", 0, 1), put("b", 2, 3)];
      expect(acknowledgedWritesSurvive(history, [get("b", 10, 11)]).ok).toBe(true);
      expect(acknowledgedWritesSurvive(history, [get("a", 10, 11)]).ok).toBe(false);
      expect(acknowledgedWritesSurvive(history, [get(null, 10, 11)]).ok).toBe(false);
      expect(acknowledgedWritesSurvive([...history, del(true, 4, 5)], [get(null, 10, 11)]).ok).toBe(true);
    });
    it("flags 5xx other than 503 and 4xx other than 404", () => {
      const answers = [503, 404, 201].map((status) => rec({ kind: "put", callMs: 0, returnMs: 1, status }));
      expect(unexpectedAnswers(answers).ok).toBe(true);
      expect(unexpectedAnswers([rec({ kind: "put", callMs: 0, returnMs: 1, status: 500 })]).ok).toBe(false);
      expect(unexpectedAnswers([rec({ kind: "put", callMs: 0, returnMs: 1, status: 499 })]).ok).toBe(false);
    });
  });

  describe("values", () => {
    it("names its write and checks every byte", () => {
      const body = valueBytes("c1-7", 5_000);
      expect(decodeValue(body)).toEqual({ ok: true, id: "c1-7" });
      const flipped = Buffer.from(body);
      flipped[4_000] = (flipped[4_000]! + 1) % 256;
      expect(decodeValue(flipped)).toMatchObject({ ok: false });
      expect(decodeValue(body.subarray(0, 4_999))).toMatchObject({ ok: false });
      expect(decodeValue(Buffer.from("hello"))).toMatchObject({ ok: false });
    });
  });

  describe("schedule", () => {
    const space: ScheduleSpace = {
      coordinators: ["coord-1", "coord-2", "coord-3"],
      volumes: ["vol-1", "vol-2", "vol-3", "vol-4"],
      links: ["coord-1->coord-2", "coords->vol-1", "vols->coord-1"],
      diskFullVolume: "vol-4",
      electionTimeoutMs: 150,
      totalMs: 60_000,
    };
    it("is a pure function of the seed", () => {
      expect(generateSchedule(42, space)).toEqual(generateSchedule(42, space));
      expect(generateSchedule(42, space)).not.toEqual(generateSchedule(43, space));
    });
    it("fills the time asked for, pauses outlast the election timeout, and every fault kind appears", () => {
      const kinds = new Set<string>();
      for (let seed = 0; seed < 20; seed++) {
        const schedule = generateSchedule(seed, space);
        const totalMs = schedule.reduce((sum, f) => sum + f.gapMs + f.durationMs, 0);
        expect(totalMs).toBeGreaterThanOrEqual(space.totalMs);
        for (const fault of schedule) {
          kinds.add(fault.kind);
          if (fault.kind.startsWith("pause-"))
            expect(fault.durationMs).toBeGreaterThan(space.electionTimeoutMs);
        }
      }
      expect(kinds.size).toBe(9);
    });
    it("uses no link fault without proxies", () => {
      const schedule = generateSchedule(7, { ...space, links: [], diskFullVolume: undefined });
      expect(
        schedule.every((f) =>
          ["kill-coordinator", "pause-coordinator", "kill-volume", "pause-volume"].includes(f.kind),
        ),
      ).toBe(true);
    });
    it("replays a client's choices from the seed", () => {
      const a = new Rng(5).fork(2);
      const b = new Rng(5).fork(2);
      expect([a.next(), a.int(0, 9)]).toEqual([b.next(), b.int(0, 9)]);
    });
  });
});
