import { describe, expect, it } from "vitest";
import type { VolumeRecord } from "./metadata-commands.js";
import type { LiveVolume, PeerStatus } from "./peer-status.js";
import { livenessBounds, VolumeLiveness } from "./volume-liveness.js";

const volume = (id: string): LiveVolume => ({ id, capacityBytes: 100, usedBytes: 0 });
const record = (id: string): VolumeRecord => ({
  id,
  grpcAddress: `127.0.0.1:${id.length}`,
  httpUrl: "http://127.0.0.1:1",
  capacityBytes: 100,
  state: "active",
  registeredAtMs: 0,
});

/** A follower whose leader answers with `leaderVolumes` at the time of each ask. */
function follower(): {
  liveness: VolumeLiveness;
  clock: { now: number };
  leader: { volumes: LiveVolume[]; asked: number };
} {
  const clock = { now: 1_000 };
  const leader = { volumes: [] as LiveVolume[], asked: 0 };
  const liveness = new VolumeLiveness({
    isLeader: () => false,
    askLeader: () => {
      leader.asked++;
      return Promise.resolve({ role: "leader", liveVolumes: [...leader.volumes] } as unknown as PeerStatus);
    },
    now: () => clock.now,
  });
  return { liveness, clock, leader };
}

describe("VolumeLiveness", () => {
  it("a follower reuses the leader's answer for a moment, and a fresh ask takes a newer one", async () => {
    const { liveness, clock, leader } = follower();
    // Asked before any volume registered: the answer is empty.
    expect([...(await liveness.live([])).keys()]).toEqual([]);
    leader.volumes = [volume("vol-1"), volume("vol-2"), volume("vol-3")];
    clock.now += 200;
    expect([...(await liveness.live([])).keys()]).toEqual([]);
    expect(leader.asked).toBe(1);
    // A write that found too few volumes asks for a fresh view: the cached one is too old.
    expect([...(await liveness.live([], { fresh: true })).keys()]).toEqual(["vol-1", "vol-2", "vol-3"]);
    expect(leader.asked).toBe(2);
    // A fresh ask right after reuses that answer: at most one ask per freshViewMaxAgeMs.
    clock.now += livenessBounds.freshViewMaxAgeMs - 1;
    expect((await liveness.live([], { fresh: true })).size).toBe(3);
    expect(leader.asked).toBe(2);
  });

  it("a new leader presumes registered volumes alive for one timeout, then only those it heard", async () => {
    const clock = { now: 1_000 };
    const liveness = new VolumeLiveness({
      isLeader: () => true,
      askLeader: () => Promise.resolve(null),
      now: () => clock.now,
    });
    const registered = [record("vol-1"), record("vol-2")];
    liveness.heard(volume("vol-2"));
    expect([...(await liveness.live(registered)).keys()].sort()).toEqual(["vol-1", "vol-2"]);
    clock.now += livenessBounds.timeoutMs - 1;
    liveness.heard(volume("vol-2"));
    clock.now += 2;
    expect([...(await liveness.live(registered)).keys()]).toEqual(["vol-2"]);
    liveness.suspect("vol-2");
    expect((await liveness.live(registered)).size).toBe(0);
  });
});
