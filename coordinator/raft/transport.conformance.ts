/**
 * The conformance suite every Transport passes, in memory and over gRPC: per-peer order,
 * isolation of dead peers, snapshot streaming with acknowledgement after storage.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Message, MessageType, NodeId } from "./core/types.js";
import { MemorySnapshotStore } from "./memory-snapshot-store.js";
import type { PeerAddresses } from "./storage.js";
import type { Transport, TransportHandler } from "./transport.js";

/** A message with every field at its zero value, for tests. */
export function blankMessage(
  type: MessageType,
  from: NodeId,
  to: NodeId,
  fields: Partial<Message> = {},
): Message {
  return {
    type,
    from,
    to,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    rejectTermHint: 0,
    snapshot: null,
    context: new Uint8Array(),
    ...fields,
  };
}

/** Records what a transport delivers. */
export class RecordingHandler implements TransportHandler {
  readonly messages: Message[] = [];
  readonly unreachable: NodeId[] = [];
  readonly snapshots: { message: Message; addresses: PeerAddresses; bytes: Buffer }[] = [];
  refuseSnapshots = false;

  onMessage(message: Message): void {
    this.messages.push(message);
  }

  async onSnapshot(
    message: Message,
    addresses: PeerAddresses,
    chunks: AsyncIterable<Uint8Array>,
  ): Promise<void> {
    const parts: Uint8Array[] = [];
    for await (const chunk of chunks) parts.push(chunk);
    if (this.refuseSnapshots) throw new Error("refused");
    this.snapshots.push({ message, addresses, bytes: Buffer.concat(parts) });
  }

  onUnreachable(id: NodeId): void {
    this.unreachable.push(id);
  }
}

/** Creates connected transports (each knows the others' addresses) and tears them down. */
export interface TransportHarness {
  create(ids: readonly NodeId[]): Promise<Transport[]>;
  cleanup(): Promise<void>;
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function started(transports: readonly Transport[]): Promise<RecordingHandler[]> {
  const handlers = transports.map(() => new RecordingHandler());
  await Promise.all(transports.map((t, i) => t.start(handlers[i] ?? new RecordingHandler())));
  return handlers;
}

export function describeTransport(name: string, factory: () => Promise<TransportHarness>): void {
  describe(`Transport conformance: ${name}`, () => {
    let harness: TransportHarness | undefined;

    afterEach(async () => {
      await harness?.cleanup();
      harness = undefined;
    });

    async function setup(ids: readonly NodeId[]): Promise<{ ts: Transport[]; hs: RecordingHandler[] }> {
      harness = await factory();
      const ts = await harness.create(ids);
      return { ts, hs: await started(ts) };
    }

    it("delivers messages to a peer in the order sent, fields intact", async () => {
      const { ts, hs } = await setup(["a", "b"]);
      const entries = [{ index: 7, term: 2, type: "confChange" as const, data: Uint8Array.from([1, 2, 3]) }];
      for (let i = 1; i <= 300; i++) {
        ts[0]?.send(
          blankMessage("append", "a", "b", {
            index: i,
            term: 2,
            entries,
            context: Uint8Array.from([i & 0xff]),
          }),
        );
      }
      await until(() => (hs[1]?.messages.length ?? 0) === 300);
      expect(hs[1]?.messages.map((m) => m.index)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
      const last = hs[1]?.messages[299];
      expect(last).toEqual(
        blankMessage("append", "a", "b", {
          index: 300,
          term: 2,
          entries,
          context: Uint8Array.from([300 & 0xff]),
        }),
      );
    });

    it("carries every message type and the snapshot meta of a message", async () => {
      const { ts, hs } = await setup(["a", "b"]);
      const types: MessageType[] = [
        "preVote",
        "preVoteResp",
        "vote",
        "voteResp",
        "appendResp",
        "heartbeat",
        "heartbeatResp",
        "timeoutNow",
        "propose",
        "readIndex",
        "readIndexResp",
        "transferLeader",
      ];
      const snapshot = { index: 9, term: 3, confState: { voters: ["a", "b"], learners: ["c"] } };
      for (const type of types) {
        ts[0]?.send(
          blankMessage(type, "a", "b", {
            reject: true,
            rejectHint: 4,
            rejectTermHint: 2,
            commit: 5,
            snapshot,
            logTerm: 1,
          }),
        );
      }
      await until(() => (hs[1]?.messages.length ?? 0) === types.length);
      expect(hs[1]?.messages.map((m) => m.type)).toEqual(types);
      expect(hs[1]?.messages[0]).toEqual(
        blankMessage("preVote", "a", "b", {
          reject: true,
          rejectHint: 4,
          rejectTermHint: 2,
          commit: 5,
          snapshot,
          logTerm: 1,
        }),
      );
    });

    it("reports an unknown or dead peer unreachable without delaying the others", async () => {
      const { ts, hs } = await setup(["a", "b", "c"]);
      await ts[2]?.close();
      for (let i = 1; i <= 100; i++) {
        ts[0]?.send(blankMessage("append", "a", "c", { index: i }));
        ts[0]?.send(blankMessage("append", "a", "b", { index: i }));
      }
      ts[0]?.send(blankMessage("heartbeat", "a", "nobody"));
      await until(() => (hs[1]?.messages.length ?? 0) === 100);
      await until(() => hs[0]?.unreachable.includes("c") === true && hs[0].unreachable.includes("nobody"));
    });

    it("streams a snapshot and resolves once the receiver stored it (§7)", async () => {
      const { ts, hs } = await setup(["a", "b"]);
      const store = new MemorySnapshotStore();
      const meta = { index: 42, term: 5, confState: { voters: ["a", "b"], learners: [] } };
      const sink = await store.create(meta, { a: "10.0.0.1:1", b: "10.0.0.2:1" });
      const body = Buffer.alloc(3_000_000);
      for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
      for (let at = 0; at < body.length; at += 65_536) await sink.write(body.subarray(at, at + 65_536));
      await sink.commit();
      const message = blankMessage("snapshot", "a", "b", { term: 5, snapshot: meta });
      await ts[0]?.sendSnapshot(message, await store.open(42));
      expect(hs[1]?.snapshots).toHaveLength(1);
      expect(hs[1]?.snapshots[0]?.message).toEqual(message);
      expect(hs[1]?.snapshots[0]?.addresses).toEqual({ a: "10.0.0.1:1", b: "10.0.0.2:1" });
      expect(hs[1]?.snapshots[0]?.bytes.equals(body)).toBe(true);
      if (hs[1] !== undefined) hs[1].refuseSnapshots = true;
      await expect(ts[0]?.sendSnapshot(message, await store.open(42))).rejects.toThrow();
      await ts[1]?.close();
      await expect(ts[0]?.sendSnapshot(message, await store.open(42))).rejects.toThrow();
    });
  });
}
