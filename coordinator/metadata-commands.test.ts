import { describe, expect, it } from "vitest";
import { isMinikvError } from "../common/errors.js";
import type { Entry } from "./raft/core/types.js";
import { MemoryStateMachine } from "./raft/memory-state-machine.js";
import {
  PRUNE_TXIDS_MAX,
  abortedTxKey,
  blobKey,
  decodeJson,
  decodeMetadataCommand,
  encodeMetadataCommand,
  metadataCommandHandler,
  type BlobMeta,
  type MetadataCommand,
  type MetadataResult,
} from "./metadata-commands.js";

function harness() {
  const sm = new MemoryStateMachine<MetadataResult>(metadataCommandHandler);
  let index = 0;
  const apply = async (...commands: (MetadataCommand | Uint8Array)[]) => {
    const entries: Entry[] = commands.map((c) => ({
      term: 1,
      index: ++index,
      type: "normal",
      data: c instanceof Uint8Array ? c : encodeMetadataCommand(c),
    }));
    return sm.apply(entries);
  };
  const blob = async (key: string) => decodeJson<BlobMeta>(await sm.get(blobKey(key)));
  return { sm, apply, blob };
}

const put = (key: string, txid: string, extra: Partial<MetadataCommand> = {}): MetadataCommand =>
  ({
    op: "putBlob",
    key,
    size: 5,
    crc32c: 0xdeadbeef,
    contentType: "text/plain",
    replicas: ["v1", "v2", "v3"],
    txid,
    atMs: 1000,
    ...extra,
  }) as MetadataCommand;

describe("metadata state machine (issue: coordinator §1)", () => {
  it("stores a blob at the Raft index of its putBlob, with a strong ETag", async () => {
    const h = harness();
    const [result] = await h.apply(put("a/b.txt", "tx1"));
    expect(result).toMatchObject({
      op: "putBlob",
      previous: null,
      blob: { key: "a/b.txt", version: 1, etag: '"1-deadbeef"' },
    });
    expect(await h.blob("a/b.txt")).toMatchObject({ version: 1, replicas: ["v1", "v2", "v3"], txid: "tx1" });
    expect(h.sm.appliedIndex()).toBe(1);
  });

  it("returns the overwritten version so its space can be reclaimed; Raft order decides", async () => {
    const h = harness();
    const [, second] = await h.apply(put("k", "tx1"), put("k", "tx2", { size: 7 }));
    expect(second).toMatchObject({
      op: "putBlob",
      blob: { version: 2, size: 7 },
      previous: { version: 1, txid: "tx1" },
    });
  });

  it("applies a duplicate proposal of one write once", async () => {
    const h = harness();
    const [, again] = await h.apply(put("k", "tx1"), put("k", "tx1"));
    expect(again).toMatchObject({ blob: { version: 1 }, previous: null });
  });

  it("deletes, returning what was there", async () => {
    const h = harness();
    const results = await h.apply(
      put("k", "tx1"),
      { op: "deleteBlob", key: "k", atMs: 5 },
      { op: "deleteBlob", key: "k", atMs: 6 },
    );
    expect(results[1]).toMatchObject({ op: "deleteBlob", previous: { version: 1 } });
    expect(results[2]).toEqual({ op: "deleteBlob", previous: null });
    expect(await h.blob("k")).toBeNull();
  });

  it("presumed abort: an aborted write can never commit afterwards, a committed one stays", async () => {
    const h = harness();
    const results = await h.apply(
      { op: "abortTx", txid: "late", key: "k", atMs: 1 },
      put("k", "late"),
      put("k", "won"),
      { op: "abortTx", txid: "won", key: "k", atMs: 2 },
    );
    expect(results[0]).toEqual({ op: "abortTx", outcome: "aborted" });
    expect(isMinikvError(results[1], "CONFLICT")).toBe(true);
    expect(results[3]).toEqual({ op: "abortTx", outcome: "committed", version: 3 });
    expect(await h.blob("k")).toMatchObject({ txid: "won", version: 3 });
  });

  it("prunes only the listed abort records older than beforeMs; a pruned txid is no longer refused", async () => {
    const h = harness();
    await h.apply(
      { op: "abortTx", txid: "old", key: "a", atMs: 1_000 },
      { op: "abortTx", txid: "young", key: "b", atMs: 5_000 },
      { op: "abortTx", txid: "unlisted", key: "c", atMs: 1_000 },
    );
    const [pruned] = await h.apply({ op: "pruneAborted", txids: ["old", "young", "never"], beforeMs: 2_000 });
    expect(pruned).toEqual({ op: "pruneAborted", pruned: 1 });
    expect(await h.sm.get(abortedTxKey("old"))).toBeUndefined();
    expect(await h.sm.get(abortedTxKey("young"))).toBeDefined();
    expect(await h.sm.get(abortedTxKey("unlisted"))).toBeDefined();
    const results = await h.apply(put("b", "young"), put("a", "old"));
    expect(isMinikvError(results[0], "CONFLICT")).toBe(true);
    expect(results[1]).toMatchObject({ op: "putBlob" });
    const tooMany = Array.from({ length: PRUNE_TXIDS_MAX + 1 }, (_, i) => `t${i}`);
    expect(() =>
      decodeMetadataCommand(encodeMetadataCommand({ op: "pruneAborted", txids: tooMany, beforeMs: 1 })),
    ).toThrow(/malformed/);
  });

  it("replaces replicas only at the expected version (repair/rebalance)", async () => {
    const h = harness();
    const results = await h.apply(
      put("k", "tx1"),
      { op: "setReplicas", key: "k", version: 1, replicas: ["v4", "v2", "v3"] },
      { op: "setReplicas", key: "k", version: 9, replicas: ["v5"] },
    );
    expect(results[1]).toMatchObject({ blob: { replicas: ["v4", "v2", "v3"], version: 1 } });
    expect(isMinikvError(results[2], "CONFLICT")).toBe(true);
  });

  it("registers volumes and keeps an operator's drain across re-registration", async () => {
    const h = harness();
    const reg = {
      op: "registerVolume",
      id: "v1",
      grpcAddress: "127.0.0.1:6001",
      httpUrl: "http://127.0.0.1:6000",
      capacityBytes: 10,
      atMs: 1,
    } as const;
    const results = await h.apply(
      reg,
      { op: "setVolumeState", id: "v1", state: "draining" },
      { ...reg, grpcAddress: "127.0.0.1:7001", atMs: 2 },
    );
    expect(results[2]).toMatchObject({
      volume: { state: "draining", grpcAddress: "127.0.0.1:7001", registeredAtMs: 1 },
    });
    const [missing] = await h.apply({ op: "setVolumeState", id: "nope", state: "active" });
    expect(isMinikvError(missing, "NOT_FOUND")).toBe(true);
  });

  it("refuses malformed commands without changing anything or throwing", async () => {
    const h = harness();
    const bad = [
      Uint8Array.from([9, 1, 2]),
      Buffer.concat([Buffer.from([0x10]), Buffer.from("{not json")]),
      encodeMetadataCommand({ op: "putBlob", key: "" } as unknown as MetadataCommand),
      encodeMetadataCommand({ ...put("a\u0000b", "t") }),
      encodeMetadataCommand({ op: "dropTables" } as unknown as MetadataCommand),
    ];
    const results = await h.apply(...bad);
    for (const r of results) expect(isMinikvError(r)).toBe(true);
    expect(h.sm.size()).toBe(0);
    expect(h.sm.appliedIndex()).toBe(bad.length);
  });

  it("round-trips commands through the encoding", () => {
    const cmd = put("ключ/😀", "tx");
    expect(decodeMetadataCommand(encodeMetadataCommand(cmd))).toEqual(cmd);
  });
});
