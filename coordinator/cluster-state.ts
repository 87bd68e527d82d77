/**
 * The volumes as this coordinator sees them right now: the registry (Raft) joined with
 * liveness (the leader's soft state), and the placement that follows from them.
 */
import { eligibleVolumeIds, placeKey, type PlacementVolume } from "./hrw-placement.js";
import type { VolumeRecord } from "./metadata-commands.js";
import type { MetadataStore } from "./metadata-store.js";
import type { LiveVolume } from "./peer-status.js";
import { VolumeLiveness } from "./volume-liveness.js";
import type { VolumePool } from "./volume-pool.js";

/** One registered volume with its state as `GET /v1/cluster` shows it. */
export interface VolumeView extends PlacementVolume {
  readonly record: VolumeRecord;
  readonly alive: boolean;
  readonly capacityBytes: number;
  readonly usedBytes: number;
}

export class ClusterState {
  constructor(
    readonly store: MetadataStore,
    readonly liveness: VolumeLiveness,
    readonly pool: VolumePool,
  ) {}

  /** `fresh`: see VolumeLiveness.live. */
  async volumes(options: { readonly fresh?: boolean } = {}): Promise<VolumeView[]> {
    const records = await this.store.volumes();
    this.pool.update(records);
    const live = await this.liveness.live(records, options);
    return records.map((record) => view(record, live.get(record.id)));
  }

  /** The key's HRW targets among the volumes eligible now, best first, at most `replicas`. */
  async placement(
    key: string,
    replicas: number,
    options: { readonly fresh?: boolean } = {},
  ): Promise<string[]> {
    return placeKey(key, eligibleVolumeIds(await this.volumes(options)), replicas);
  }
}

function view(record: VolumeRecord, live: LiveVolume | undefined): VolumeView {
  const alive = live !== undefined;
  const state = record.state === "draining" ? "draining" : alive ? "alive" : "down";
  return {
    id: record.id,
    record,
    alive,
    state,
    full: live !== undefined && !VolumeLiveness.hasRoom(live),
    capacityBytes: live?.capacityBytes ?? record.capacityBytes,
    usedBytes: live?.usedBytes ?? 0,
  };
}
