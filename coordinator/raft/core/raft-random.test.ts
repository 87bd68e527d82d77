/**
 * A small randomized check of the core's safety properties (Figure 3 of the paper) under
 * message loss, duplication and reordering, partitions, restarts, compaction, leadership
 * transfers and membership changes. The full seeded simulator with linearizability
 * checking lives in ../sim; this is the core's own quick guard.
 */
import { describe, it } from "vitest";
import { createRng, type Rng } from "./rng.js";
import { TestNetwork, bytes, text } from "./test-network.js";
import type { ConfChange, NodeId, ReadState } from "./types.js";

const seedCount = 30;
const stepsPerSeed = 1000;

interface Observed {
  leaders: Map<number, NodeId>;
  /** Term of every committed index ever reported by any node. */
  committedTerms: Map<number, number>;
  /** The longest applied sequence seen; every node's must be a prefix of it. */
  applied: string[];
  commitOf: Map<NodeId, number>;
  /** Per read context: the highest applied index anywhere when the read was requested. */
  readFloors: Map<string, number>;
  readsChecked: Map<NodeId, number>;
}

function fail(seed: number, what: string): never {
  throw new Error(`seed=${seed}: ${what}`);
}

function checkSafety(net: TestNetwork, seen: Observed, seed: number): void {
  for (const n of net.nodes.values()) {
    const status = n.node.status();
    if (status.role === "leader") {
      const known = seen.leaders.get(status.term);
      // Election safety: at most one leader per term.
      if (known !== undefined && known !== n.id) fail(seed, `two leaders in term ${status.term}`);
      seen.leaders.set(status.term, n.id);
    }
    // Commit index never goes backwards, even across restarts.
    if (status.commit < (seen.commitOf.get(n.id) ?? 0)) fail(seed, `${n.id} commit went back`);
    seen.commitOf.set(n.id, status.commit);
    // Log matching / leader completeness: a committed index holds the same term everywhere.
    for (const entry of n.storage.entries) {
      if (entry.index > status.commit) break;
      const term = seen.committedTerms.get(entry.index);
      if (term !== undefined && term !== entry.term) fail(seed, `${n.id} committed ${entry.index} differs`);
      seen.committedTerms.set(entry.index, entry.term);
    }
    // State machine safety: applied sequences are prefixes of one another.
    const mine = n.storage.applied;
    const shorter = Math.min(mine.length, seen.applied.length);
    for (let i = 0; i < shorter; i++) {
      if (mine[i] !== seen.applied[i])
        fail(seed, `${n.id} applied ${mine[i]} where others applied ${seen.applied[i]}`);
    }
    if (mine.length > seen.applied.length) seen.applied = [...mine];
    checkReads(n.id, n.readStates, seen, seed);
  }
}

/**
 * §6.4 linearizable reads: a read point must cover every write acknowledged (applied
 * somewhere) before the read was requested.
 */
function checkReads(id: NodeId, states: readonly ReadState[], seen: Observed, seed: number): void {
  for (let i = seen.readsChecked.get(id) ?? 0; i < states.length; i++) {
    const state = states[i];
    if (state === undefined) continue;
    const floor = seen.readFloors.get(text(state.context)) ?? Infinity;
    if (state.index < floor) fail(seed, `${id} read ${text(state.context)} at ${state.index} < ${floor}`);
  }
  seen.readsChecked.set(id, states.length);
}

function randomAction(
  net: TestNetwork,
  rng: Rng,
  ids: readonly NodeId[],
  step: number,
  seen: Observed,
): void {
  const pick = (): NodeId => ids[rng.nextInt(ids.length)] ?? "n1";
  const roll = rng.nextInt(1000);
  if (roll < 300) {
    for (const id of ids) net.tick(id);
  } else if (roll < 550) {
    const leader = net.leaderId();
    if (leader !== null) net.raw(leader).propose(bytes(`v${step}`));
  } else if (roll < 600) {
    net.raw(pick()).propose(bytes(`f${step}`)); // forwarded by followers
  } else if (roll < 620) {
    net.restart(pick());
  } else if (roll < 650) {
    net.heal();
    if (rng.nextInt(2) === 0) net.isolate(pick());
    else net.cut(pick(), pick());
  } else if (roll < 670) {
    net.heal();
  } else if (roll < 690) {
    const n = net.get(pick());
    if (n.node.status().applied > (n.storage.snapshot?.index ?? 0)) net.compact(n.id);
  } else if (roll < 700) {
    const leader = net.leaderId();
    if (leader !== null) net.raw(leader).transferLeader(pick());
  } else if (roll < 710) {
    proposeRandomConfChange(net, rng, ids);
  } else if (roll < 730) {
    const appliedMax = Math.max(...[...net.nodes.values()].map((n) => n.storage.appliedIndex));
    seen.readFloors.set(`r${step}`, appliedMax);
    net.raw(pick()).readIndex(bytes(`r${step}`));
  }
}

function proposeRandomConfChange(net: TestNetwork, rng: Rng, ids: readonly NodeId[]): void {
  const leader = net.leaderId();
  if (leader === null) return;
  const conf = net.raw(leader).status().confState;
  const id = ids[rng.nextInt(ids.length)] ?? "n1";
  let change: ConfChange;
  if (conf.learners.includes(id)) change = { type: "promote", nodeId: id, context: "" };
  else if (conf.voters.includes(id)) {
    if (conf.voters.length <= 3) return; // keep a quorum reachable
    change = { type: "remove", nodeId: id, context: "" };
  } else change = { type: "addLearner", nodeId: id, context: "" };
  net.raw(leader).proposeConfChange(change);
}

/** Runs messages with loss, duplication and reordering for one scheduling step. */
function deliverSome(net: TestNetwork, rng: Rng): void {
  for (const id of net.nodes.keys()) net.process(id);
  const budget = rng.nextInt(8);
  for (let i = 0; i < budget && net.queue.length > 0; i++) {
    const [m] = net.queue.splice(rng.nextInt(Math.min(net.queue.length, 4)), 1);
    if (m === undefined) break;
    const roll = rng.nextInt(100);
    if (roll < 5) {
      // Lost. A lost snapshot stream is reported as failed, as a driver would.
      if (m.type === "snapshot") net.raw(m.from).reportSnapshot(m.to, false);
      continue;
    }
    if (roll < 8) net.queue.push(m); // duplicated
    net.deliver(m);
    net.process(m.to);
  }
}

/** Liveness after healing: within a bounded time every voter applies a freshly proposed entry. */
function settles(net: TestNetwork): boolean {
  for (let round = 0; round < 60; round++) {
    net.tickAll(5);
    const leader = net.leaderId();
    if (leader === null) continue;
    const voters = net.raw(leader).status().confState.voters;
    if (voters.every((id) => net.get(id).storage.applied.some((v) => v.startsWith("final")))) return true;
    net.raw(leader).propose(bytes(`final${round}`));
  }
  return false;
}

describe("randomized safety (Figure 3 properties)", () => {
  it(`election safety, log matching, leader completeness and state machine safety hold over ${seedCount} seeds`, () => {
    for (let seed = 1; seed <= seedCount; seed++) {
      const rng = createRng(seed);
      const ids = ["n1", "n2", "n3", "n4", "n5"];
      const voters = seed % 2 === 0 ? ids.slice(0, 3) : ids;
      const checkQuorum = rng.nextInt(2) === 0;
      const config = {
        preVote: rng.nextInt(2) === 0,
        checkQuorum,
        leaseRead: checkQuorum && rng.nextInt(2) === 0,
        maxMsgBytes: 16,
        maxInflightMsgs: 4,
      };
      const extra = ids.filter((id) => !voters.includes(id));
      const net = new TestNetwork({ voters, extra, config, seed, bootstrap: true });
      const seen: Observed = {
        leaders: new Map(),
        committedTerms: new Map(),
        applied: [],
        commitOf: new Map(),
        readFloors: new Map(),
        readsChecked: new Map(),
      };
      for (let step = 0; step < stepsPerSeed; step++) {
        randomAction(net, rng, ids, step, seen);
        deliverSome(net, rng);
        checkSafety(net, seen, seed);
      }
      // Liveness once healed: a leader emerges and every voter applies a new entry.
      net.heal();
      if (!settles(net)) fail(seed, "no leader committed a new entry to every voter after healing");
      checkSafety(net, seen, seed);
    }
  });
});
