/**
 * The volume, shard and replication parts of `GET /v1/cluster` (DESIGN.md §4): every
 * registered volume with its state, how many shard-replicas placement gives each eligible
 * volume now, and the repair backlog.
 */
import { SHARD_COUNT } from "../common/hashing.js";
import type { RepairQueue } from "./blob-reader.js";
import type { ClusterState } from "./cluster-state.js";
import { eligibleVolumeIds, placeAllShards } from "./hrw-placement.js";
import type { ClusterExtras } from "./http-app.js";

export function clusterExtras(deps: {
  cluster: ClusterState;
  replicas: number;
  repairQueue: RepairQueue;
}): ClusterExtras {
  return {
    async volumes() {
      return (await deps.cluster.volumes()).map((v) => ({
        id: v.id,
        state: v.state,
        url: v.record.httpUrl,
        grpcAddress: v.record.grpcAddress,
        capacity: v.capacityBytes,
        used: v.usedBytes,
        full: v.full,
      }));
    },
    async shards() {
      const eligible = eligibleVolumeIds(await deps.cluster.volumes());
      const shardReplicas: Record<string, number> = Object.fromEntries(eligible.map((id) => [id, 0]));
      let underReplicated = 0;
      for (const targets of placeAllShards(eligible, deps.replicas)) {
        if (targets.length < deps.replicas) underReplicated++;
        for (const id of targets) shardReplicas[id] = (shardReplicas[id] ?? 0) + 1;
      }
      return { count: SHARD_COUNT, eligibleVolumes: eligible.length, shardReplicas, underReplicated };
    },
    replication() {
      return Promise.resolve({ repairQueue: deps.repairQueue.size });
    },
  };
}
