/**
 * What the operator jobs (verify, repair, rebalance, compact, drain) need from a running
 * coordinator. The coordinator implements it over its Raft node, its metadata state machine
 * and its volume registry; tests implement it over an in-memory map and real volume servers.
 */
import type { VolumeClient } from "../../common/volume-client.js";
import type { BlobMeta, VolumeRecord } from "../metadata-commands.js";

/** A registered volume and whether the leader has heard its heartbeat recently. */
export interface VolumeView {
  readonly record: VolumeRecord;
  readonly alive: boolean;
}

export interface ClusterAccess {
  /** This coordinator's id (job ids and reports name it). */
  readonly coordinatorId: string;
  /** `--replicas`: the cluster's copies per blob. */
  readonly replicas: number;
  /**
   * Up to `limit` blobs in key (UTF-8 byte) order strictly after `startAfter` (null: from the
   * first), read linearizably.
   */
  listBlobs(startAfter: string | null, limit: number): Promise<readonly BlobMeta[]>;
  /** One blob's metadata, read linearizably; null when absent. */
  getBlob(key: string): Promise<BlobMeta | null>;
  /** Every registered volume with its liveness. */
  volumes(): Promise<readonly VolumeView[]>;
  /**
   * The key's HRW placement over the volumes eligible now (alive, active, not full), best
   * first, `replicas` long at most (shorter when fewer volumes are eligible).
   */
  placement(key: string, replicas: number): Promise<readonly string[]>;
  /**
   * Replaces a blob's replica list through Raft. Rejects with CONFLICT when the blob is no
   * longer at `version` (overwritten or deleted meanwhile): the caller drops what it copied.
   */
  setReplicas(key: string, version: number, replicas: readonly string[]): Promise<void>;
  /** Marks a volume draining (placement skips it; rebalance moves its data away) through Raft. */
  drainVolume(volumeId: string): Promise<void>;
  /** A client of a registered volume (cached; do not close it). UNAVAILABLE for unknown ids. */
  volumeClient(volumeId: string): VolumeClient;
  /** Raft membership: adds a coordinator (as a learner, promoted once caught up) / removes one. */
  addCoordinator(id: string, grpcAddress: string): Promise<void>;
  removeCoordinator(id: string): Promise<void>;
}
