/**
 * One gRPC client per registered volume, made on first use and replaced when the volume
 * registers at a new address. Clients are shared by every request of this coordinator.
 */
import { ErrorCode, MinikvError } from "../common/errors.js";
import { VolumeClient } from "../common/volume-client.js";
import type { VolumeRecord } from "./metadata-commands.js";

export class VolumePool {
  private readonly clients = new Map<string, VolumeClient>();
  private readonly registry = new Map<string, VolumeRecord>();

  /** Learns the registry (called whenever it is read); clients of moved volumes are replaced. */
  update(records: readonly VolumeRecord[]): void {
    for (const record of records) {
      const known = this.registry.get(record.id);
      if (known !== undefined && known.grpcAddress !== record.grpcAddress) {
        this.clients.get(record.id)?.close();
        this.clients.delete(record.id);
      }
      this.registry.set(record.id, record);
    }
  }

  /** Every volume the registry held when last read. */
  records(): VolumeRecord[] {
    return [...this.registry.values()];
  }

  record(volumeId: string): VolumeRecord | undefined {
    return this.registry.get(volumeId);
  }

  /** A client of a registered volume; UNAVAILABLE for an id the registry does not hold. */
  client(volumeId: string): VolumeClient {
    let client = this.clients.get(volumeId);
    if (client !== undefined) return client;
    const record = this.registry.get(volumeId);
    if (record === undefined)
      throw new MinikvError(ErrorCode.UNAVAILABLE, `volume ${volumeId} is not registered`);
    client = new VolumeClient(record.grpcAddress);
    this.clients.set(volumeId, client);
    return client;
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}
