/**
 * Figure 2: "persistent state ... updated on stable storage before responding to RPCs".
 * Storage here is slow on purpose; every message leaving a driver is checked against what
 * its storage had durably written at that moment. The one exception is the leader's own
 * log (dissertation §10.2.1): its appends may leave while it writes the entries, so each
 * acknowledged proposal is also checked to be durable on a majority when it is answered.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Message } from "./core/types.js";
import { until, putCommand, transferWithRetries } from "./driver-test-cluster.js";
import type { KvResult } from "./kv-commands.js";
import { kvCommandHandler } from "./kv-commands.js";
import { MemoryRaftStore } from "./memory-raft-store.js";
import { MemorySnapshotStore } from "./memory-snapshot-store.js";
import { MemoryStateMachine } from "./memory-state-machine.js";
import { MemoryNetwork } from "./memory-transport.js";
import { RaftDriver } from "./raft-driver.js";
import type { StorageUpdate } from "./storage.js";
import type { Transport, TransportHandler } from "./transport.js";

class SlowStore extends MemoryRaftStore {
  durableLast = 0;
  durableTerm = 0;
  durableVote: string | null = null;

  override async save(update: StorageUpdate): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 3));
    await super.save(update);
    this.durableLast = this.lastIndex();
    this.durableTerm = this.hardState().term;
    this.durableVote = this.hardState().vote;
  }
}

/** Wraps a transport and records every message that leaves before its state is durable. */
class AuditedTransport implements Transport {
  readonly violations: string[] = [];
  sent = 0;
  /** Appends that left while the leader was still writing their entries (§10.2.1). */
  earlyAppends = 0;

  constructor(
    private readonly inner: Transport,
    private readonly store: SlowStore,
  ) {}

  get localId(): string {
    return this.inner.localId;
  }

  send(message: Message): void {
    this.sent += 1;
    const problem = this.problem(message);
    if (problem !== null) this.violations.push(`${message.type} ${message.from}→${message.to}: ${problem}`);
    this.inner.send(message);
  }

  private problem(m: Message): string | null {
    const s = this.store;
    const preVote = m.type === "preVote" || m.type === "preVoteResp";
    if (!preVote && m.term > s.durableTerm)
      return `term ${m.term} sent before it was durable (${s.durableTerm})`;
    if (m.type === "append" && (m.entries.at(-1)?.index ?? 0) > s.durableLast) this.earlyAppends += 1;
    if (m.type === "appendResp" && !m.reject && m.index > s.durableLast)
      return "acknowledged entries not durable";
    if (m.type === "voteResp" && !m.reject && s.durableVote !== m.to)
      return "vote granted before it was durable";
    return null;
  }

  start(handler: TransportHandler): Promise<void> {
    return this.inner.start(handler);
  }
  sendSnapshot(...args: Parameters<Transport["sendSnapshot"]>): Promise<void> {
    return this.inner.sendSnapshot(...args);
  }
  setPeer(id: string, address: string): void {
    this.inner.setPeer(id, address);
  }
  removePeer(id: string): void {
    this.inner.removePeer(id);
  }
  peerAddresses(): Readonly<Record<string, string>> {
    return this.inner.peerAddresses();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

describe("RaftDriver persists before it sends (Figure 2)", () => {
  const drivers: RaftDriver<KvResult>[] = [];

  afterEach(async () => {
    for (const d of drivers.splice(0)) await d.stop();
  });

  it("no message leaves before the term, vote and acknowledged entries it depends on are durable; answered proposals are durable on a majority", async () => {
    const network = new MemoryNetwork();
    const ids = ["a", "b", "c"];
    const audits: AuditedTransport[] = [];
    const stores: SlowStore[] = [];
    const notDurable: string[] = [];
    const proposeChecked = async (driver: RaftDriver<KvResult>, key: string): Promise<void> => {
      const { index } = await driver.propose(putCommand(key, "v"));
      const holders = stores.filter((s) => s.durableLast >= index).length;
      if (holders * 2 <= stores.length) notDurable.push(`${key} at ${index} answered, durable on ${holders}`);
    };
    for (const id of ids) {
      const store = new SlowStore();
      stores.push(store);
      const transport = new AuditedTransport(network.transport(id), store);
      audits.push(transport);
      const driver = new RaftDriver<KvResult>(
        { id, bootstrapMembers: ids, peers: {}, tickMs: 5, electionTicks: 10, heartbeatTicks: 2 },
        {
          storage: store,
          snapshots: new MemorySnapshotStore(),
          stateMachine: new MemoryStateMachine(kvCommandHandler),
          transport,
        },
      );
      drivers.push(driver);
      await driver.start();
    }
    await until(() => drivers.some((d) => d.status().role === "leader"), 5000, "a leader");
    const leader = drivers.find((d) => d.status().role === "leader");
    if (leader === undefined) throw new Error("no leader");
    await Promise.all(Array.from({ length: 100 }, (_, i) => proposeChecked(leader, `k${i}`)));
    // A leadership transfer makes another node campaign, so vote paths are exercised too.
    const other = drivers.find((d) => d !== leader);
    if (other === undefined) throw new Error("no follower");
    await transferWithRetries(() => drivers, other.id);
    await proposeChecked(other, "after");
    expect(audits.reduce((n, a) => n + a.sent, 0)).toBeGreaterThan(20);
    expect(audits.flatMap((a) => a.violations)).toEqual([]);
    expect(notDurable).toEqual([]);
    // The leader did replicate in parallel with its own writes.
    expect(audits.reduce((n, a) => n + a.earlyAppends, 0)).toBeGreaterThan(0);
  });
});
