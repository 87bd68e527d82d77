/**
 * The conformance suite of the key-value state machines (memory twin and LevelDB): applied
 * index atomic with the writes, refusals without effect, consistent snapshots, restore.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MinikvError } from "../../common/errors.js";
import type { Entry } from "./core/types.js";
import type { KvReader, KvResult } from "./kv-commands.js";
import { encodeKvCommand } from "./kv-commands.js";
import type { StateMachine } from "./state-machine.js";

export type KvStateMachine = StateMachine<KvResult> & KvReader;

/** Opens state machines over one persistent location; open() again after close() is a restart. */
export interface StateMachineHarness {
  open(): Promise<KvStateMachine>;
  /** A second, independent location (to restore into). */
  openOther(): Promise<KvStateMachine>;
  cleanup(): Promise<void>;
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (data: Uint8Array | undefined): string | undefined =>
  data === undefined ? undefined : new TextDecoder().decode(data);

export function putEntry(index: number, key: string, value: string): Entry {
  return {
    index,
    term: 1,
    type: "normal",
    data: encodeKvCommand({ type: "put", key: bytes(key), value: bytes(value) }),
  };
}

function deleteEntry(index: number, key: string): Entry {
  return { index, term: 1, type: "normal", data: encodeKvCommand({ type: "delete", key: bytes(key) }) };
}

async function drain(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const chunk of chunks) out.push(chunk);
  return out;
}

async function* iterate(chunks: readonly Uint8Array[]): AsyncIterable<Uint8Array> {
  for (const chunk of chunks) yield chunk;
  await Promise.resolve();
}

export function describeStateMachine(name: string, factory: () => Promise<StateMachineHarness>): void {
  describe(`StateMachine conformance: ${name}`, () => {
    let harness: StateMachineHarness;
    let sm: KvStateMachine;
    const others: KvStateMachine[] = [];

    beforeEach(async () => {
      harness = await factory();
      sm = await harness.open();
    });

    afterEach(async () => {
      await sm.close();
      for (const other of others.splice(0)) await other.close();
      await harness.cleanup();
    });

    it("applies put, delete and batch with results, advancing the applied index", async () => {
      expect(sm.appliedIndex()).toBe(0);
      const batch = encodeKvCommand({
        type: "batch",
        ops: [
          { type: "put", key: bytes("b"), value: bytes("2") },
          { type: "delete", key: bytes("a") },
          { type: "put", key: bytes("c"), value: bytes("3") },
        ],
      });
      const results = await sm.apply([
        putEntry(1, "a", "1"),
        { index: 2, term: 1, type: "normal", data: batch },
        deleteEntry(3, "zz"),
      ]);
      expect(results).toEqual([
        { existed: [false] },
        { existed: [false, true, false] },
        { existed: [false] },
      ]);
      expect(sm.appliedIndex()).toBe(3);
      expect(text(await sm.get(bytes("a")))).toBeUndefined();
      expect(text(await sm.get(bytes("b")))).toBe("2");
      expect(text(await sm.get(bytes("c")))).toBe("3");
    });

    it("advances over no-ops and conf changes without a result (§8)", async () => {
      const results = await sm.apply([
        { index: 1, term: 1, type: "normal", data: new Uint8Array() },
        { index: 2, term: 1, type: "confChange", data: bytes("{}") },
        putEntry(3, "k", "v"),
      ]);
      expect(results).toEqual([undefined, undefined, { existed: [false] }]);
      expect(sm.appliedIndex()).toBe(3);
    });

    it("refuses a malformed command with INVALID_ARGUMENT, applying the rest", async () => {
      const results = await sm.apply([
        { index: 1, term: 1, type: "normal", data: Uint8Array.from([3, 0, 0, 0, 9, 1]) },
        putEntry(2, "k", "v"),
        { index: 3, term: 1, type: "normal", data: Uint8Array.from([77]) },
      ]);
      expect(results[0]).toBeInstanceOf(MinikvError);
      expect((results[0] as MinikvError).code).toBe("INVALID_ARGUMENT");
      expect(results[1]).toEqual({ existed: [false] });
      expect((results[2] as MinikvError).code).toBe("INVALID_ARGUMENT");
      expect(sm.appliedIndex()).toBe(3);
      expect(text(await sm.get(bytes("k")))).toBe("v");
    });

    it("keeps data and applied index together across a restart", async () => {
      await sm.apply([putEntry(1, "a", "1"), putEntry(2, "b", "2")]);
      await sm.close();
      sm = await harness.open();
      expect(sm.appliedIndex()).toBe(2);
      expect(text(await sm.get(bytes("b")))).toBe("2");
      await sm.apply([putEntry(3, "c", "3")]);
      expect(sm.appliedIndex()).toBe(3);
    });

    it("snapshots a consistent view while later entries apply, and restores it elsewhere (§7)", async () => {
      const first = Array.from({ length: 300 }, (_, i) => putEntry(i + 1, `key-${i}`, "x".repeat(2000)));
      await sm.apply(first);
      const view = await sm.snapshot();
      expect(view.index).toBe(300);
      await sm.apply([putEntry(301, "late", "1"), deleteEntry(302, "key-0")]);
      const chunks = await drain(view.chunks());
      await view.close();
      const other = await harness.openOther();
      others.push(other);
      await other.apply([putEntry(1, "stale", "gone")]);
      await other.restore(300, iterate(chunks));
      expect(other.appliedIndex()).toBe(300);
      expect(text(await other.get(bytes("key-0")))).toBe("x".repeat(2000));
      expect(text(await other.get(bytes("key-299")))).toBe("x".repeat(2000));
      expect(await other.get(bytes("late"))).toBeUndefined();
      expect(await other.get(bytes("stale"))).toBeUndefined();
      await other.apply([putEntry(301, "after", "1")]);
      expect(other.appliedIndex()).toBe(301);
    });

    it("rejects a truncated snapshot with DATA_CORRUPT and leaves the applied index below it", async () => {
      await sm.apply([putEntry(1, "a", "1"), putEntry(2, "b", "2")]);
      const view = await sm.snapshot();
      const whole = Buffer.concat(await drain(view.chunks()));
      await view.close();
      const other = await harness.openOther();
      others.push(other);
      await expect(other.restore(2, iterate([whole.subarray(0, whole.length - 3)]))).rejects.toThrowError(
        expect.objectContaining({ code: "DATA_CORRUPT" }) as Error,
      );
      expect(other.appliedIndex()).toBeLessThan(2);
      await other.restore(2, iterate([whole.subarray(0, 5), whole.subarray(5)]));
      expect(other.appliedIndex()).toBe(2);
      expect(text(await other.get(bytes("a")))).toBe("1");
    });
  });
}
