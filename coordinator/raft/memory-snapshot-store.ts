/**
 * The in-memory twin of FileSnapshotStore. A MemorySnapshotDisk outlives the store so tests
 * can restart a node over the same committed snapshots.
 */
import { ErrorCode, MinikvError } from "../../common/errors.js";
import type { SnapshotMeta } from "./core/types.js";
import type { PeerAddresses, SnapshotInfo, SnapshotSink, SnapshotSource, SnapshotStore } from "./storage.js";

interface StoredSnapshot {
  readonly info: SnapshotInfo;
  readonly chunks: readonly Uint8Array[];
}

/** Committed snapshots by index. */
export class MemorySnapshotDisk {
  readonly snapshots = new Map<number, StoredSnapshot>();
}

function copyMeta(meta: SnapshotMeta): SnapshotMeta {
  return {
    index: meta.index,
    term: meta.term,
    confState: { voters: [...meta.confState.voters], learners: [...meta.confState.learners] },
  };
}

class MemorySnapshotSink implements SnapshotSink {
  private readonly chunks: Uint8Array[] = [];
  private sizeBytes = 0;
  private done = false;

  constructor(
    private readonly disk: MemorySnapshotDisk,
    private readonly meta: SnapshotMeta,
    private readonly peerAddresses: PeerAddresses,
  ) {}

  write(chunk: Uint8Array): Promise<void> {
    if (this.done) return Promise.reject(new Error("snapshot sink is finished"));
    this.chunks.push(Uint8Array.from(chunk));
    this.sizeBytes += chunk.byteLength;
    return Promise.resolve();
  }

  commit(): Promise<SnapshotInfo> {
    if (this.done) return Promise.reject(new Error("snapshot sink is finished"));
    this.done = true;
    const info: SnapshotInfo = {
      meta: copyMeta(this.meta),
      peerAddresses: { ...this.peerAddresses },
      sizeBytes: this.sizeBytes,
    };
    this.disk.snapshots.set(info.meta.index, { info, chunks: this.chunks });
    return Promise.resolve(info);
  }

  abort(): Promise<void> {
    this.done = true;
    return Promise.resolve();
  }
}

export class MemorySnapshotStore implements SnapshotStore {
  constructor(private readonly disk: MemorySnapshotDisk = new MemorySnapshotDisk()) {}

  create(meta: SnapshotMeta, peerAddresses: PeerAddresses): Promise<SnapshotSink> {
    if (!Number.isSafeInteger(meta.index) || meta.index < 1 || !Number.isSafeInteger(meta.term)) {
      return Promise.reject(
        new MinikvError(ErrorCode.INVALID_ARGUMENT, `invalid snapshot index ${meta.index}`),
      );
    }
    return Promise.resolve(new MemorySnapshotSink(this.disk, meta, peerAddresses));
  }

  list(): Promise<SnapshotInfo[]> {
    const infos = [...this.disk.snapshots.values()].map((s) => s.info);
    return Promise.resolve(infos.sort((a, b) => b.meta.index - a.meta.index));
  }

  async latest(): Promise<SnapshotInfo | null> {
    return (await this.list())[0] ?? null;
  }

  open(index: number): Promise<SnapshotSource> {
    const stored = this.disk.snapshots.get(index);
    if (stored === undefined) {
      return Promise.reject(new MinikvError(ErrorCode.NOT_FOUND, `no snapshot at index ${index}`));
    }
    return Promise.resolve({
      info: stored.info,
      chunks: async function* () {
        for (const chunk of stored.chunks) yield Uint8Array.from(chunk);
        await Promise.resolve();
      },
      close: () => Promise.resolve(),
    });
  }

  async prune(retain: number): Promise<void> {
    const infos = await this.list();
    for (const info of infos.slice(Math.max(1, retain))) this.disk.snapshots.delete(info.meta.index);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
