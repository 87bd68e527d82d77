/**
 * A cluster for the operator-job tests: REAL volume servers (in-process, loopback, port 0,
 * temp dirs) behind an in-memory ClusterAccess whose metadata is a Map. Placement is the
 * coordinator's own HRW placement (coordinator/hrw-placement.ts) over the live, active
 * volumes; setReplicas checks the version as the Raft state machine does. Writes go through a
 * real prepare/commit on each chosen volume, exactly as the coordinator's 2PC leaves them.
 */
import { ErrorCode, MinikvError } from "../common/errors.js";
import type { VolumeClient } from "../common/volume-client.js";
import type { ClusterAccess, VolumeView } from "../coordinator/admin/cluster-access.js";
import { eligibleVolumeIds, placeKey } from "../coordinator/hrw-placement.js";
import { etagOf, type BlobMeta, type VolumeRecord } from "../coordinator/metadata-commands.js";
import {
  putValue,
  readAll,
  startTestVolume,
  testValue,
  type TestValue,
  type TestVolume,
} from "./volume-fixture.js";

/** The metadata and volume registry of a test cluster, with hooks to inject races. */
export class MemoryClusterAccess implements ClusterAccess {
  readonly coordinatorId = "coord-test";
  readonly blobs = new Map<string, BlobMeta>();
  readonly records = new Map<string, VolumeRecord>();
  readonly down = new Set<string>();
  readonly clients = new Map<string, VolumeClient>();
  readonly membership: string[] = [];
  /** Runs at the start of setReplicas (before the version check): a test's concurrent writer. */
  onSetReplicas: ((key: string) => void) | undefined;
  private index = 0;

  constructor(readonly replicas: number) {}

  nextVersion(): number {
    this.index += 1;
    return this.index;
  }

  listBlobs(startAfter: string | null, limit: number): Promise<readonly BlobMeta[]> {
    const keys = [...this.blobs.keys()]
      .filter((key) => startAfter === null || Buffer.compare(Buffer.from(key), Buffer.from(startAfter)) > 0)
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
      .slice(0, limit);
    return Promise.resolve(keys.map((key) => this.blobs.get(key) as BlobMeta));
  }

  getBlob(key: string): Promise<BlobMeta | null> {
    return Promise.resolve(this.blobs.get(key) ?? null);
  }

  volumes(): Promise<readonly VolumeView[]> {
    return Promise.resolve(
      [...this.records.values()].map((record) => ({ record, alive: !this.down.has(record.id) })),
    );
  }

  placement(key: string, replicas: number): Promise<readonly string[]> {
    return Promise.resolve(placeKey(key, this.eligible(), replicas));
  }

  eligible(): string[] {
    return eligibleVolumeIds(
      [...this.records.values()].map((r) => ({
        id: r.id,
        state: this.down.has(r.id) ? "down" : r.state === "draining" ? "draining" : "alive",
        full: false,
      })),
    );
  }

  setReplicas(key: string, version: number, replicas: readonly string[]): Promise<void> {
    this.onSetReplicas?.(key);
    const blob = this.blobs.get(key);
    if (blob === undefined)
      return Promise.reject(new MinikvError(ErrorCode.KEY_NOT_FOUND, `no blob "${key}"`));
    if (blob.version !== version)
      return Promise.reject(new MinikvError(ErrorCode.CONFLICT, `"${key}" is at version ${blob.version}`));
    this.blobs.set(key, { ...blob, replicas: [...replicas] });
    return Promise.resolve();
  }

  drainVolume(volumeId: string): Promise<void> {
    const record = this.records.get(volumeId);
    if (record === undefined)
      return Promise.reject(new MinikvError(ErrorCode.NOT_FOUND, `no volume "${volumeId}"`));
    this.records.set(volumeId, { ...record, state: "draining" });
    return Promise.resolve();
  }

  volumeClient(volumeId: string): VolumeClient {
    const client = this.clients.get(volumeId);
    if (client === undefined) throw new MinikvError(ErrorCode.UNAVAILABLE, `no volume "${volumeId}"`);
    return client;
  }

  addCoordinator(id: string, grpcAddress: string): Promise<void> {
    this.membership.push(`add ${id} ${grpcAddress}`);
    return Promise.resolve();
  }

  removeCoordinator(id: string): Promise<void> {
    this.membership.push(`remove ${id}`);
    return Promise.resolve();
  }
}

/** Real volumes plus the in-memory metadata, and what each test key was written with. */
export class AdminTestCluster {
  readonly access: MemoryClusterAccess;
  readonly volumes = new Map<string, TestVolume>();
  readonly values = new Map<string, TestValue>();

  constructor(replicas: number) {
    this.access = new MemoryClusterAccess(replicas);
  }

  static async start(volumeCount: number, replicas = 3): Promise<AdminTestCluster> {
    const cluster = new AdminTestCluster(replicas);
    for (let i = 1; i <= volumeCount; i++) await cluster.addVolume(`vol-${i}`);
    return cluster;
  }

  async addVolume(id: string): Promise<TestVolume> {
    // Small segments, so dropped copies leave segments compaction can free; no automatic
    // compaction, so a test sees what the compact job frees.
    const volume = await startTestVolume({
      id,
      storage: { segmentBytesMax: 256 * 1024, compactionCheckIntervalMs: 0 },
    });
    this.volumes.set(id, volume);
    this.access.clients.set(id, volume.client);
    this.access.records.set(id, {
      id,
      grpcAddress: volume.server.grpcAddress,
      httpUrl: volume.httpUrl,
      capacityBytes: 1024 ** 4,
      state: "active",
      registeredAtMs: Date.now(),
    });
    return volume;
  }

  volume(id: string): TestVolume {
    const volume = this.volumes.get(id);
    if (volume === undefined) throw new Error(`no test volume ${id}`);
    return volume;
  }

  /**
   * Writes a random value of `sizeBytes` under `key` to its placement, as a committed 2PC
   * write leaves it; `skip` volumes are listed as replicas but never get the bytes.
   */
  async write(key: string, sizeBytes: number, skip: readonly string[] = []): Promise<BlobMeta> {
    const value = testValue(sizeBytes);
    const replicas = await this.access.placement(key, this.access.replicas);
    const version = this.access.nextVersion();
    const txid = `tx-${key}-${version}`;
    for (const id of replicas)
      if (!skip.includes(id)) await putValue(this.volume(id).client, key, value, version, txid);
    const blob: BlobMeta = {
      key,
      size: sizeBytes,
      crc32c: value.crc32c,
      etag: etagOf(version, value.crc32c),
      contentType: "application/octet-stream",
      replicas,
      version,
      txid,
      createdAtMs: Date.now(),
    };
    this.access.blobs.set(key, blob);
    this.values.set(key, value);
    return blob;
  }

  /** Reads the blob from every recorded replica at its version and checks it byte for byte. */
  async readBackEverywhere(key: string): Promise<boolean> {
    const blob = this.access.blobs.get(key);
    const value = this.values.get(key);
    if (blob === undefined || value === undefined) return false;
    for (const id of blob.replicas) {
      const bytes = await readAll(this.volume(id).client.read(key, { version: blob.version }));
      if (!bytes.equals(value.bytes)) return false;
    }
    return true;
  }

  /** Every (volume, key, version, prepared) entry the volumes list, sorted: a picture of the data. */
  async listing(): Promise<string[]> {
    const out: string[] = [];
    for (const [id, volume] of this.volumes) {
      for await (const batch of volume.client.listKeys({ includePrepared: true }))
        for (const entry of batch)
          out.push(`${id} ${entry.key} v${entry.version}${entry.prepared ? " prepared" : ""}`);
    }
    return out.sort();
  }

  async close(): Promise<void> {
    for (const volume of this.volumes.values()) await volume.cleanup();
  }
}
