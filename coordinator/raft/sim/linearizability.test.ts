import { describe, expect, it } from "vitest";
import { applyKv, kvModel, type KvInput, type KvOperation, type KvOutput } from "./kv-model.js";
import { checkOperations, type Model, type Operation } from "./linearizability.js";
import { createRng } from "./rng.js";

// Hand-written histories: each op is [client, call, return|null, input, output|null].
type Row = readonly [number, number, number | null, KvInput, KvOutput | null];

function history(rows: readonly Row[]): KvOperation[] {
  return rows.map(([clientId, call, ret, input, output]) => ({ clientId, call, return: ret, input, output }));
}

const put = (key: string, value: string): KvInput => ({ kind: "put", key, value });
const get = (key: string): KvInput => ({ kind: "get", key });
const cas = (key: string, expected: string | null, value: string): KvInput => ({
  kind: "cas",
  key,
  expected,
  value,
});
const append = (key: string, value: string): KvInput => ({ kind: "append", key, value });
const done = { kind: "put" } as const;
const appended = { kind: "append" } as const;
const read = (value: string | null): KvOutput => ({ kind: "get", value });
const casResult = (ok: boolean): KvOutput => ({ kind: "cas", ok });

describe("linearizability checker (Wing & Gong 1993; Lowe 2017) on hand-written KV histories", () => {
  it("accepts a sequential history", () => {
    const ops = history([
      [1, 0, 1, put("x", "a"), done],
      [1, 2, 3, get("x"), read("a")],
      [2, 4, 5, cas("x", "a", "b"), casResult(true)],
      [2, 6, 7, cas("x", "a", "c"), casResult(false)],
      [1, 8, 9, get("x"), read("b")],
    ]);
    expect(checkOperations(kvModel, ops).verdict).toBe("ok");
  });

  it("accepts concurrent reads that see either side of an overlapping write", () => {
    const ops = history([
      [1, 0, 10, put("x", "1"), done],
      [2, 1, 2, get("x"), read(null)],
      [3, 3, 4, get("x"), read("1")],
      [2, 5, 6, get("x"), read("1")],
    ]);
    expect(checkOperations(kvModel, ops).verdict).toBe("ok");
  });

  it("rejects a stale read: a read that starts after a write completed returns the old value (§6.4)", () => {
    const ops = history([
      [1, 0, 10, put("x", "1"), done],
      [2, 20, 30, get("x"), read(null)],
    ]);
    const result = checkOperations(kvModel, ops);
    expect(result.verdict).toBe("illegal");
    expect(result.explanation).toContain("get x");
  });

  it("rejects a stale read by a deposed leader after a newer write was acknowledged", () => {
    const ops = history([
      [1, 0, 5, put("x", "old"), done],
      [2, 10, 15, put("x", "new"), done],
      [3, 11, 14, get("x"), read("new")],
      [1, 20, 25, get("x"), read("old")],
    ]);
    expect(checkOperations(kvModel, ops).verdict).toBe("illegal");
  });

  it("rejects reads that flip back: once a concurrent write is observed it cannot be unobserved", () => {
    const ops = history([
      [1, 0, 100, put("x", "1"), done],
      [2, 10, 20, get("x"), read("1")],
      [3, 30, 40, get("x"), read(null)],
    ]);
    expect(checkOperations(kvModel, ops).verdict).toBe("illegal");
  });

  it("rejects a read of a value nobody wrote", () => {
    const ops = history([
      [1, 0, 1, put("x", "1"), done],
      [2, 2, 3, get("x"), read("2")],
    ]);
    expect(checkOperations(kvModel, ops).verdict).toBe("illegal");
  });

  it("rejects two successful compare-and-sets from the same expected value", () => {
    const ops = history([
      [1, 0, 1, put("x", "0"), done],
      [2, 2, 10, cas("x", "0", "a"), casResult(true)],
      [3, 3, 11, cas("x", "0", "b"), casResult(true)],
    ]);
    expect(checkOperations(kvModel, ops).verdict).toBe("illegal");
  });

  it("orders appends by what reads saw", () => {
    const ok = history([
      [1, 0, 10, append("x", "a"), appended],
      [2, 0, 10, append("x", "b"), appended],
      [3, 11, 12, get("x"), read("ba")],
    ]);
    expect(checkOperations(kvModel, ok).verdict).toBe("ok");
    const bad = history([
      [1, 0, 10, append("x", "a"), appended],
      [2, 0, 10, append("x", "b"), appended],
      [3, 11, 12, get("x"), read("ba")],
      [3, 13, 14, get("x"), read("ab")],
    ]);
    expect(checkOperations(kvModel, bad).verdict).toBe("illegal");
  });

  describe("unknown outcomes (timeouts) may take effect any time after the call, or never", () => {
    it("an unknown write may become visible long after its call", () => {
      const ops = history([
        [1, 0, null, put("x", "1"), null],
        [2, 10, 20, get("x"), read(null)],
        [2, 30, 40, get("x"), read("1")],
      ]);
      expect(checkOperations(kvModel, ops).verdict).toBe("ok");
    });

    it("an unknown write may never take effect", () => {
      const ops = history([
        [1, 0, null, put("x", "1"), null],
        [2, 10, 20, get("x"), read(null)],
      ]);
      expect(checkOperations(kvModel, ops).verdict).toBe("ok");
    });

    it("an unknown write cannot take effect before its call", () => {
      const ops = history([
        [2, 0, 5, get("x"), read("1")],
        [1, 10, null, put("x", "1"), null],
      ]);
      expect(checkOperations(kvModel, ops).verdict).toBe("illegal");
    });

    it("an operation that never returned but whose result is known must still match it", () => {
      const ok = history([
        [1, 0, 5, put("x", "0"), done],
        [2, 10, null, cas("x", "0", "1"), casResult(true)],
        [3, 20, 30, get("x"), read("1")],
      ]);
      expect(checkOperations(kvModel, ok).verdict).toBe("ok");
      const bad = history([
        [1, 0, 5, put("x", "0"), done],
        [2, 10, null, cas("x", "0", "1"), casResult(false)],
        [3, 20, 30, get("x"), read("1")],
      ]);
      expect(checkOperations(kvModel, bad).verdict).toBe("illegal");
    });

    it("an unknown write takes effect at most once", () => {
      const ops = history([
        [1, 0, null, append("x", "a"), null],
        [2, 10, 20, get("x"), read("a")],
        [2, 30, 40, get("x"), read("aa")],
      ]);
      expect(checkOperations(kvModel, ops).verdict).toBe("illegal");
    });
  });

  it("checks each key alone and names the failing key's operations", () => {
    const ops = history([
      [1, 0, 1, put("x", "1"), done],
      [1, 2, 3, put("y", "1"), done],
      [2, 4, 5, get("x"), read("1")],
      [2, 6, 7, get("y"), read(null)],
    ]);
    const result = checkOperations(kvModel, ops);
    expect(result.verdict).toBe("illegal");
    expect(result.partitions).toHaveLength(2);
    expect(result.failingPartition?.every((op) => op.input.key === "y")).toBe(true);
  });

  it("answers 'unknown' instead of searching forever when the step budget runs out", () => {
    // Many concurrent unknown appends and a read no order can explain: the search must
    // explore many subsets before it could prove "illegal".
    const rows: Row[] = [];
    for (let i = 0; i < 14; i++) rows.push([i, 0, null, append("x", String.fromCharCode(97 + i)), null]);
    rows.push([99, 1, 2, get("x"), read("zz")]);
    const result = checkOperations(kvModel, history(rows), { maxStepsPerPartition: 1000 });
    expect(result.verdict).toBe("unknown");
    expect(result.partitions[0]?.searchSteps).toBeGreaterThan(1000);
  });
});

describe("linearizability checker on random histories of a real atomic register", () => {
  // Runs ops against a true atomic object at a random instant inside each op's interval:
  // such a history is linearizable by construction, so the checker must say "ok".
  function randomLinearizableHistory(seed: number): KvOperation[] {
    const rng = createRng(seed);
    const clients = rng.int(2, 5);
    const instants: { op: number; at: number }[] = [];
    const intervals: { clientId: number; call: number; ret: number; input: KvInput }[] = [];
    for (let clientId = 0; clientId < clients; clientId++) {
      let time = rng.int(0, 5);
      for (let n = 0; n < rng.int(3, 8); n++) {
        const call = time;
        const ret = call + rng.int(1, 20);
        const input = rng.pick([
          get("k"),
          put("k", String(rng.int(0, 3))),
          cas("k", rng.chance(0.3) ? null : String(rng.int(0, 3)), String(rng.int(0, 3))),
          append("k", String(rng.int(0, 9))),
        ]);
        instants.push({ op: intervals.length, at: call + rng.float() * (ret - call) });
        intervals.push({ clientId, call, ret, input });
        time = ret + rng.int(0, 3);
      }
    }
    instants.sort((x, y) => x.at - y.at);
    let value: string | null = null;
    const outputs = new Map<number, KvOutput>();
    for (const { op } of instants) {
      const next = applyKv(value, (intervals[op] as (typeof intervals)[number]).input);
      value = next.value;
      outputs.set(op, next.output);
    }
    return intervals.map((iv, i) => ({
      clientId: iv.clientId,
      call: iv.call,
      return: rng.chance(0.1) ? null : iv.ret,
      input: iv.input,
      output: outputs.get(i) as KvOutput,
    }));
  }

  it("accepts 300 random linearizable histories (with unknown outcomes)", () => {
    for (let seed = 1; seed <= 300; seed++) {
      const ops = randomLinearizableHistory(seed).map((op) =>
        op.return === null ? { ...op, output: null } : op,
      );
      const result = checkOperations(kvModel, ops);
      expect(result.verdict, `seed=${seed}\n${result.explanation}`).toBe("ok");
    }
  });

  it("rejects every one of 100 random histories extended by a read of a value nobody wrote", () => {
    for (let seed = 1; seed <= 100; seed++) {
      const ops = randomLinearizableHistory(seed).filter((op) => op.return !== null);
      const end = Math.max(...ops.map((op) => op.return ?? 0));
      ops.push({
        clientId: 99,
        call: end + 1,
        return: end + 2,
        input: get("k"),
        output: read("never-written"),
      });
      expect(checkOperations(kvModel, ops).verdict, `seed=${seed}`).toBe("illegal");
    }
  });
});

describe("linearizability checker with another model (generic API)", () => {
  // A counter with increments and reads, to show the API is not tied to the KV store.
  type CounterInput = { kind: "inc" } | { kind: "read" };
  const counterModel: Model<number, CounterInput, number> = {
    init: () => 0,
    step: (state, input, output) => {
      if (input.kind === "inc") return { ok: true, state: state + 1 };
      return output === null || output === state ? { ok: true, state } : { ok: false };
    },
    hash: (state) => String(state),
  };
  const op = (
    clientId: number,
    call: number,
    ret: number,
    input: CounterInput,
    output: number,
  ): Operation<CounterInput, number> => ({
    clientId,
    call,
    return: ret,
    input,
    output,
  });

  it("accepts a read concurrent with two increments seeing one of them", () => {
    const ops = [
      op(1, 0, 10, { kind: "inc" }, 0),
      op(2, 0, 10, { kind: "inc" }, 0),
      op(3, 1, 9, { kind: "read" }, 1),
    ];
    expect(checkOperations(counterModel, ops).verdict).toBe("ok");
  });

  it("rejects a read that misses a completed increment", () => {
    const ops = [op(1, 0, 1, { kind: "inc" }, 0), op(3, 2, 3, { kind: "read" }, 0)];
    expect(checkOperations(counterModel, ops).verdict).toBe("illegal");
  });
});
