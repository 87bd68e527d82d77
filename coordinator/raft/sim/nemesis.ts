import type { NodeId, Ready } from "../core/types.js";
import type { Rng } from "./rng.js";
import { crashPoints, type SimNode } from "./sim-node.js";
import { perfectNetwork, type NetworkFaults } from "./sim-network.js";
import type { Simulator } from "./simulator.js";

/** How often each fault strikes, per tick. Drawn per seed, so seeds differ in kind of trouble. */
export interface NemesisProfile {
  readonly crashPerTick: number;
  readonly downTicksMin: number;
  readonly downTicksMax: number;
  /** Share of crashes that are power losses (unsynced writes lost) rather than process kills. */
  readonly powerLossShare: number;
  /** Share of crashes that land inside the handling of a Ready rather than between two. */
  readonly midReadyShare: number;
  /** A node crashes right after granting a vote and comes back within a few ticks (Figure 2). */
  readonly voteCrashPerTick: number;
  /** Two nodes campaign in the same tick (a split vote) while a third is armed to crash after voting. */
  readonly splitElectionPerTick: number;
  readonly linkCutPerTick: number;
  /** Share of link cuts that cut one direction only. */
  readonly oneWayShare: number;
  readonly linkHealPerTick: number;
  readonly isolatePerTick: number;
  readonly splitPerTick: number;
  readonly healAllPerTick: number;
  readonly transferPerTick: number;
  readonly confChangePerTick: number;
  /** Voters plus learners never exceed this. */
  readonly membersMax: number;
  readonly networkChangePerTick: number;
  readonly pausePerTick: number;
  readonly pauseTicksMax: number;
  /** A node's clock runs twice as fast for a while (zero when leader leases are on). */
  readonly fastClockPerTick: number;
  /** One node's disk, or every live node's at once, syncs slowly for a while. */
  readonly slowDiskPerTick: number;
  /** How many ticks a synced batch takes on a slow disk, at most (often past the election timeout). */
  readonly slowDiskTicksMax: number;
}

export function randomNemesisProfile(rng: Rng, voters: number, leaseRead: boolean): NemesisProfile {
  const some = (max: number): number => (rng.chance(0.25) ? 0 : rng.float() * max);
  return {
    crashPerTick: some(0.01),
    downTicksMin: 5,
    downTicksMax: rng.int(20, 150),
    powerLossShare: rng.float(),
    midReadyShare: rng.float(),
    voteCrashPerTick: some(0.01),
    splitElectionPerTick: some(0.01),
    linkCutPerTick: some(0.02),
    oneWayShare: rng.float() * 0.5,
    linkHealPerTick: some(0.03),
    isolatePerTick: some(0.005),
    splitPerTick: some(0.004),
    healAllPerTick: 0.002 + rng.float() * 0.01,
    transferPerTick: some(0.01),
    confChangePerTick: some(0.02),
    membersMax: voters + rng.int(0, 2),
    networkChangePerTick: some(0.01),
    pausePerTick: some(0.005),
    pauseTicksMax: rng.int(5, 40),
    fastClockPerTick: leaseRead ? 0 : some(0.005),
    slowDiskPerTick: some(0.005),
    slowDiskTicksMax: rng.int(2, 40),
  };
}

export function randomNetworkFaults(rng: Rng): NetworkFaults {
  const delayTicksMax = rng.int(1, rng.chance(0.3) ? 12 : 4);
  return {
    lossRate: rng.chance(0.3) ? 0 : rng.float() * 0.2,
    duplicateRate: rng.chance(0.4) ? 0 : rng.float() * 0.1,
    delayTicksMin: rng.int(0, 1),
    delayTicksMax,
    straggleRate: rng.chance(0.5) ? 0 : rng.float() * 0.02,
    straggleTicksMax: rng.int(10, 100),
  };
}

/**
 * Injects faults into a running simulation: crashes (process kill or power loss, between
 * Readys or inside one) with restarts after a random downtime, link cuts one at a time and
 * heals in random order, isolation of a node, majority/minority splits, changing loss,
 * duplication and delay, paused clocks, slow disks (one node's or every node's fsyncs
 * taking up to several election timeouts), leadership transfers and membership changes
 * (add learner → promote, remove any voter including the leader).
 */
export class Nemesis {
  private readonly restartAt = new Map<NodeId, number>();
  /** Downtime chosen when a crash was armed, used once it fires. */
  private readonly armedDowntime = new Map<NodeId, number>();
  private readonly retireAt = new Map<NodeId, number>();
  private nextNodeNumber: number;
  readonly counts = {
    crashes: 0,
    cuts: 0,
    heals: 0,
    transfers: 0,
    confChanges: 0,
    retired: 0,
    pauses: 0,
    slowDisks: 0,
  };

  constructor(
    private readonly sim: Simulator,
    private readonly rng: Rng,
    private readonly profile: NemesisProfile,
  ) {
    this.nextNodeNumber = sim.nodes().length + 1;
    // A crash armed with no downtime restarts at once, before any other message arrives.
    sim.onCrash((node) => {
      if (this.armedDowntime.get(node.id) !== 0 || node.retired) return;
      this.armedDowntime.delete(node.id);
      this.sim.restart(node.id);
    });
  }

  step(): void {
    const p = this.profile;
    const rng = this.rng;
    this.restartDue();
    this.retireRemoved();
    if (rng.chance(p.crashPerTick)) this.crashOne();
    if (rng.chance(p.voteCrashPerTick)) this.crashAfterVote(this.rng.shuffled(this.sim.liveNodes())[0]);
    if (rng.chance(p.splitElectionPerTick)) this.splitElection();
    if (rng.chance(p.linkCutPerTick)) this.cutOneLink();
    if (rng.chance(p.linkHealPerTick)) this.healOneLink();
    if (rng.chance(p.isolatePerTick)) this.isolateOne();
    if (rng.chance(p.splitPerTick)) this.split();
    if (rng.chance(p.healAllPerTick)) this.sim.network.healAll();
    if (rng.chance(p.transferPerTick)) this.transfer();
    if (rng.chance(p.confChangePerTick)) this.changeMembership();
    if (rng.chance(p.networkChangePerTick)) this.sim.network.faults = randomNetworkFaults(rng);
    if (rng.chance(p.pausePerTick)) this.pauseOne();
    if (rng.chance(p.fastClockPerTick)) this.speedUpOne();
    if (rng.chance(p.slowDiskPerTick)) this.slowDisks();
  }

  private activeIds(): NodeId[] {
    return this.sim
      .nodes()
      .filter((node) => !node.retired)
      .map((node) => node.id);
  }

  private restartDue(): void {
    for (const [id, at] of this.restartAt) {
      if (at > this.sim.now) continue;
      this.restartAt.delete(id);
      const node = this.sim.node(id);
      if (!node.alive && !node.retired) this.sim.restart(id);
    }
  }

  private crashOne(): void {
    const live = this.sim.liveNodes().filter((node) => !node.retired && node.crashArmed === null);
    if (live.length === 0) return;
    const leader = this.sim.leader();
    const node = leader !== null && this.rng.chance(0.3) ? leader : this.rng.pick(live);
    const powerLoss = this.rng.chance(this.profile.powerLossShare);
    this.counts.crashes++;
    const downTicks = this.rng.int(this.profile.downTicksMin, this.profile.downTicksMax);
    if (this.rng.chance(this.profile.midReadyShare)) {
      const point = this.rng.pick(crashPoints);
      const surviving = powerLoss ? this.rng.int(0, 3) : Number.POSITIVE_INFINITY;
      this.sim.addTraceNote(
        node.id,
        "arm-crash",
        `${point}${powerLoss ? ` power-loss keep=${surviving}` : ""}`,
      );
      this.sim.armCrash(node.id, point, surviving);
    } else {
      const surviving = powerLoss ? this.rng.int(0, node.storage.unsyncedCount) : Number.POSITIVE_INFINITY;
      this.sim.addTraceNote(node.id, "nemesis", `crash${powerLoss ? ` power-loss keep=${surviving}` : ""}`);
      this.sim.crash(node.id, surviving);
    }
    this.restartAt.set(node.id, this.sim.now + downTicks);
  }

  /** Arms a crash on a node for the moment it has granted a vote (persisted, maybe sent). */
  private crashAfterVote(node: SimNode | undefined, point?: "afterPersist" | "afterSend"): void {
    if (node === undefined || node.retired || node.crashArmed !== null) return;
    point ??= this.rng.pick(["afterPersist", "afterSend"] as const);
    const grantsVote = (ready: Ready): boolean =>
      ready.messages.some((m) => m.type === "voteResp" && !m.reject);
    this.counts.crashes++;
    if (!this.armedDowntime.has(node.id)) this.armedDowntime.set(node.id, this.rng.int(0, 3));
    this.sim.addTraceNote(node.id, "arm-crash", `${point} of the next Ready granting a vote`);
    this.sim.armCrash(node.id, point, Number.POSITIVE_INFINITY, grantsVote);
  }

  /**
   * The whole cluster restarts at once (no leader, no leases), then two nodes campaign in
   * the same tick while a third is armed to crash and return right after voting.
   */
  private splitElection(): void {
    const live = this.sim.liveNodes().filter((node) => !node.retired);
    this.sim.addTraceNote("all", "nemesis", "restart every live node");
    for (const node of live) {
      node.crash(Number.POSITIVE_INFINITY);
      if (!node.alive) this.sim.restart(node.id);
    }
    const [a, b, voter] = this.rng.shuffled(live);
    if (a === undefined || b === undefined) return;
    this.armedDowntime.set(voter?.id ?? "", 0);
    // After the send: the grant is out, so only a durable vote keeps a second one from following.
    this.crashAfterVote(voter, "afterSend");
    this.sim.addTraceNote(a.id, "nemesis", `campaign together with ${b.id}`);
    a.act((raw) => raw.campaign());
    b.act((raw) => raw.campaign());
  }

  /** Schedules the restart of nodes whose armed crash fired (the nemesis learns of it afterwards). */
  noticeCrashes(): void {
    for (const node of this.sim.nodes()) {
      if (node.alive || node.retired || this.restartAt.has(node.id)) continue;
      const downTicks =
        this.armedDowntime.get(node.id) ?? this.rng.int(this.profile.downTicksMin, this.profile.downTicksMax);
      this.armedDowntime.delete(node.id);
      this.restartAt.set(node.id, this.sim.now + downTicks);
    }
  }

  private cutOneLink(): void {
    const ids = this.activeIds();
    if (ids.length < 2) return;
    const [a, b] = this.rng.shuffled(ids) as [NodeId, NodeId];
    this.counts.cuts++;
    if (this.rng.chance(this.profile.oneWayShare)) {
      this.sim.network.cutOneWay(a, b);
      this.sim.addTraceNote(a, "nemesis", `cut ${a}→${b}`);
    } else {
      this.sim.network.cut(a, b);
      this.sim.addTraceNote(a, "nemesis", `cut ${a}↔${b}`);
    }
  }

  private healOneLink(): void {
    const pairs = this.sim.network.cutPairs();
    if (pairs.length === 0) return;
    const [a, b] = this.rng.pick(pairs);
    this.counts.heals++;
    this.sim.network.heal(a, b);
    this.sim.addTraceNote(a, "nemesis", `heal ${a}↔${b}`);
  }

  private isolateOne(): void {
    const ids = this.activeIds();
    const leader = this.sim.leader();
    const victim = leader !== null && this.rng.chance(0.5) ? leader.id : this.rng.pick(ids);
    this.sim.network.partition(
      [victim],
      ids.filter((id) => id !== victim),
    );
    this.sim.addTraceNote(victim, "nemesis", "isolate");
  }

  private split(): void {
    const ids = this.rng.shuffled(this.activeIds());
    const minority = ids.slice(0, Math.floor(ids.length / 2));
    const majority = ids.slice(minority.length);
    this.sim.network.partition(minority, majority);
    this.sim.addTraceNote("net", "nemesis", `split [${minority.join(",")}] | [${majority.join(",")}]`);
  }

  private pauseOne(): void {
    const live = this.sim.liveNodes();
    if (live.length === 0) return;
    const node = this.rng.pick(live);
    this.counts.pauses++;
    this.sim.pause(node.id, this.rng.int(1, this.profile.pauseTicksMax));
    this.sim.addTraceNote(node.id, "nemesis", "pause clock");
  }

  /**
   * Slow fsyncs: for a while every synced batch of one node, or of every live node at once
   * (a disk shared by the cluster), lands only some ticks later. A leader keeps sending
   * heartbeats and its followers keep answering them meanwhile (early messages).
   */
  private slowDisks(): void {
    const live = this.sim.liveNodes();
    if (live.length === 0) return;
    const nodes = this.rng.chance(0.4) ? live : [this.rng.pick(live)];
    const until = this.sim.now + this.rng.int(10, 150);
    const ticks = this.rng.int(1, this.profile.slowDiskTicksMax);
    this.counts.slowDisks++;
    for (const node of nodes) {
      node.slowDisk(until, ticks);
      this.sim.addTraceNote(node.id, "nemesis", `slow disk: ${ticks} ticks per sync until tick ${until}`);
    }
  }

  private speedUpOne(): void {
    const live = this.sim.liveNodes();
    if (live.length === 0) return;
    const node = this.rng.pick(live);
    this.sim.addTraceNote(node.id, "nemesis", "clock runs fast");
    this.sim.speedUp(node.id, this.rng.int(10, 100));
  }

  private transfer(): void {
    const leader = this.sim.leader();
    const voters = leader?.raw?.status().confState.voters ?? [];
    const targets = voters.filter((id) => id !== leader?.id);
    if (leader === null || targets.length === 0) return;
    const to = this.rng.pick(targets);
    // Sometimes ask a follower, which forwards the request to its leader.
    const via = this.rng.chance(0.3) ? this.rng.pick(this.sim.liveNodes()) : leader;
    this.counts.transfers++;
    this.sim.addTraceNote(via.id, "nemesis", `transfer leadership to ${to}`);
    via.act((raw) => raw.transferLeader(to));
  }

  private changeMembership(): void {
    const leader = this.sim.leader();
    const status = leader?.raw?.status();
    if (leader === null || status === undefined) return;
    const { voters, learners } = status.confState;
    const caughtUp = learners.filter((id) => (status.progress[id]?.match ?? 0) >= status.lastIndex - 2);
    const propose = (type: "addLearner" | "promote" | "remove", nodeId: NodeId): boolean => {
      const result = leader.raw?.proposeConfChange({ type, nodeId, context: `sim://${nodeId}` });
      leader.act(() => undefined);
      this.sim.addTraceNote(
        leader.id,
        "nemesis",
        `conf ${type} ${nodeId}: ${result?.ok === true ? "proposed" : (result?.reason ?? "down")}`,
      );
      if (result?.ok === true) this.counts.confChanges++;
      return result?.ok === true;
    };
    const first = caughtUp[0];
    if (first !== undefined) {
      propose("promote", first);
    } else if (voters.length + learners.length < this.profile.membersMax && this.rng.chance(0.5)) {
      const id = `n${this.nextNodeNumber}`;
      if (propose("addLearner", id)) {
        this.nextNodeNumber++;
        this.sim.addNode(id).start();
      }
    } else if (voters.length >= 4) {
      propose("remove", this.rng.pick(voters));
    }
  }

  /**
   * A node removed by a committed conf change keeps running for a while (it may try to
   * disrupt the cluster, dissertation §4.2.3), then is shut down for good.
   */
  private retireRemoved(): void {
    for (const id of this.sim.removedMembers) {
      const node = this.sim.node(id);
      if (node.retired) continue;
      const retireAt = this.retireAt.get(id);
      if (retireAt === undefined) this.retireAt.set(id, this.sim.now + this.rng.int(0, 200));
      else if (retireAt <= this.sim.now) this.retire(id);
    }
  }

  private retire(id: NodeId): void {
    const node = this.sim.node(id);
    this.sim.addTraceNote(id, "nemesis", "retire (removed from the cluster)");
    node.crash(Number.POSITIVE_INFINITY);
    node.retired = true;
    this.restartAt.delete(id);
    this.counts.retired++;
  }

  /** Ends all faults: heals the network and restarts every crashed node not removed. */
  calm(): void {
    this.sim.network.healAll();
    this.sim.network.faults = { ...perfectNetwork, delayTicksMax: 2 };
    this.sim.unpauseAll();
    for (const node of this.sim.nodes()) node.disarmCrash();
    for (const node of this.sim.nodes()) node.slowDisk(0, 0);
    for (const node of this.sim.nodes()) {
      if (!node.alive && !node.retired) this.sim.restart(node.id);
    }
    this.restartAt.clear();
  }
}
