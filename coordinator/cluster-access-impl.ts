/** ClusterAccess (what operator jobs use) over this coordinator's Raft node and volumes. */
import { ErrorCode, MinikvError } from "../common/errors.js";
import type { VolumeClient } from "../common/volume-client.js";
import type { ClusterAccess, VolumeView } from "./admin/cluster-access.js";
import { retryTransientRead } from "./admin/transient.js";
import type { ClusterState } from "./cluster-state.js";
import type { CoordResult } from "./coord-commands.js";
import type { BlobMeta } from "./metadata-commands.js";
import type { RaftDriver } from "./raft/raft-driver.js";

export function createClusterAccess(deps: {
  id: string;
  replicas: number;
  driver: RaftDriver<CoordResult>;
  cluster: ClusterState;
}): ClusterAccess {
  const { cluster, driver } = deps;
  return {
    coordinatorId: deps.id,
    replicas: deps.replicas,
    listBlobs: (startAfter: string | null, limit: number): Promise<readonly BlobMeta[]> =>
      retryTransientRead(() => cluster.store.listBlobs({ startAfter, limit })),
    getBlob: (key: string) => retryTransientRead(() => cluster.store.getBlob(key)),
    async volumes(): Promise<readonly VolumeView[]> {
      return (await cluster.volumes()).map((v) => ({ record: v.record, alive: v.alive }));
    },
    placement: (key: string, replicas: number) => cluster.placement(key, replicas),
    async setReplicas(key: string, version: number, replicas: readonly string[]): Promise<void> {
      await cluster.store.commit({ op: "setReplicas", key, version, replicas: [...replicas] });
    },
    async drainVolume(volumeId: string): Promise<void> {
      await cluster.store.commit({ op: "setVolumeState", id: volumeId, state: "draining" });
    },
    volumeClient(volumeId: string): VolumeClient {
      return cluster.pool.client(volumeId);
    },
    async addCoordinator(id: string, grpcAddress: string): Promise<void> {
      if (driver.status().role !== "leader") {
        throw new MinikvError(ErrorCode.NOT_LEADER, "membership changes are made on the leader", {
          detail: { leader: driver.status().leader ?? "" },
        });
      }
      await driver.addLearner(id, grpcAddress);
      await driver.promote(id);
    },
    async removeCoordinator(id: string): Promise<void> {
      await driver.removeNode(id);
    },
  };
}
