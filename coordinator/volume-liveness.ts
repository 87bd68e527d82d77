/**
 * Which volumes are alive: the leader's soft state, fed by heartbeats (a follower that
 * receives one forwards it to the leader). Followers place writes with the leader's view,
 * fetched over CoordinatorPeer.Status and cached for a moment; without a leader they fall
 * back to the heartbeats they heard themselves. Nothing here is in Raft: a new leader starts
 * with no heartbeats, so for one timeout it presumes registered volumes alive rather than
 * refusing every write while their heartbeats find it.
 */
import type { VolumeRecord } from "./metadata-commands.js";
import type { LiveVolume, PeerStatus } from "./peer-status.js";

export const livenessBounds = {
  /** What the coordinators ask volumes for (RegisterReply.heartbeat_interval_ms). */
  heartbeatIntervalMs: 1_000,
  /** A volume not heard from for this long is down. */
  timeoutMs: 4_000,
  /** A follower reuses the leader's answer for this long. */
  leaderViewMaxAgeMs: 1_000,
  /**
   * How old the leader's answer may be when a follower asks for a fresh view: a write that
   * found too few volumes asks once more before refusing, since a cached answer may predate
   * the volumes' registration (a cluster just started, a new leader).
   */
  freshViewMaxAgeMs: 100,
  /** A volume that just failed a call is skipped by this coordinator for this long. */
  suspectMs: 2_000,
  /** Used/capacity above which a volume takes no new writes. */
  fullRatio: 0.95,
} as const;

export interface LivenessDeps {
  isLeader(): boolean;
  /** The leader's status (with its live volumes), or null when no leader answers. */
  askLeader(): Promise<PeerStatus | null>;
  now?: () => number;
}

interface Heard extends LiveVolume {
  readonly atMs: number;
}

export class VolumeLiveness {
  private readonly heardFrom = new Map<string, Heard>();
  private readonly suspects = new Map<string, number>();
  private leaderSinceMs: number | null = null;
  private leaderView: { readonly atMs: number; readonly volumes: readonly LiveVolume[] } | null = null;
  private leaderViewInFlight: Promise<void> | null = null;
  private readonly now: () => number;

  constructor(private readonly deps: LivenessDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Records a heartbeat (or registration) of a volume. */
  heard(volume: LiveVolume): void {
    this.heardFrom.set(volume.id, { ...volume, atMs: this.now() });
    this.suspects.delete(volume.id);
  }

  /** A call to the volume just failed: skip it here for a moment (a heartbeat clears this). */
  suspect(volumeId: string): void {
    this.suspects.set(volumeId, this.now() + livenessBounds.suspectMs);
  }

  /** The leader's own view (what it reports to followers). */
  ownView(registered: readonly VolumeRecord[]): LiveVolume[] {
    const now = this.now();
    if (!this.deps.isLeader()) {
      this.leaderSinceMs = null;
      return this.heardRecently(now);
    }
    this.leaderSinceMs ??= now;
    const live = new Map(this.heardRecently(now).map((v) => [v.id, v]));
    if (now - this.leaderSinceMs < livenessBounds.timeoutMs) {
      for (const r of registered) {
        if (!live.has(r.id)) live.set(r.id, { id: r.id, capacityBytes: r.capacityBytes, usedBytes: 0 });
      }
    }
    return [...live.values()];
  }

  /**
   * Live volumes as this coordinator should place writes with, suspects removed. `fresh`: a
   * follower takes the leader's answer only if it is at most freshViewMaxAgeMs old.
   */
  async live(
    registered: readonly VolumeRecord[],
    options: { readonly fresh?: boolean } = {},
  ): Promise<Map<string, LiveVolume>> {
    const maxAgeMs =
      options.fresh === true ? livenessBounds.freshViewMaxAgeMs : livenessBounds.leaderViewMaxAgeMs;
    const view = this.deps.isLeader() ? this.ownView(registered) : await this.followerView(maxAgeMs);
    const now = this.now();
    const result = new Map<string, LiveVolume>();
    for (const v of view) {
      const until = this.suspects.get(v.id);
      if (until !== undefined && until > now) continue;
      result.set(v.id, v);
    }
    return result;
  }

  /** Alive and with room for new writes. */
  static hasRoom(volume: LiveVolume): boolean {
    return volume.capacityBytes === 0 || volume.usedBytes < volume.capacityBytes * livenessBounds.fullRatio;
  }

  private heardRecently(now: number): LiveVolume[] {
    const result: LiveVolume[] = [];
    for (const h of this.heardFrom.values()) {
      if (now - h.atMs <= livenessBounds.timeoutMs) {
        result.push({ id: h.id, capacityBytes: h.capacityBytes, usedBytes: h.usedBytes });
      }
    }
    return result;
  }

  private async followerView(maxAgeMs: number): Promise<readonly LiveVolume[]> {
    this.leaderSinceMs = null;
    const now = this.now();
    if (this.leaderView === null || now - this.leaderView.atMs > maxAgeMs) {
      this.leaderViewInFlight ??= this.refreshLeaderView().finally(() => (this.leaderViewInFlight = null));
      await this.leaderViewInFlight;
    }
    const view = this.leaderView;
    if (view !== null && this.now() - view.atMs <= livenessBounds.timeoutMs) return view.volumes;
    return this.heardRecently(this.now());
  }

  private async refreshLeaderView(): Promise<void> {
    const leader = await this.deps.askLeader().catch(() => null);
    if (leader !== null && leader.role === "leader") {
      this.leaderView = { atMs: this.now(), volumes: leader.liveVolumes };
    }
  }
}
