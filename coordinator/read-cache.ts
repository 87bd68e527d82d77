/**
 * The coordinator's cache of small committed values (docs/coordinator.md, "Read cache").
 *
 * A version's bytes never change: a PUT makes a new version (its Raft index) and a DELETE
 * removes the key. So once the metadata lookup has decided which version a read sees
 * (linearizably, as before), bytes cached for exactly that version are those bytes, and the
 * read needs no volume. Entries are keyed by blob key and hold one version; a read of another
 * version is a miss and replaces it. Values come from writes committed here and from whole
 * reads of a replica; only those whose length and CRC32C match the metadata's are kept, and
 * every hit is checked against it again, so a cached value is verified on every read as a
 * replica's is. A read fills the cache only for a key that missed before (its key is
 * remembered, without the bytes, on the first miss): a scan of values read once neither
 * pays for copying them nor pushes out what is read again.
 */
import { LRUCache } from "lru-cache";
import { Counter, Gauge, type Registry } from "prom-client";
import { crc32c } from "../common/hashing.js";
import type { BlobMeta } from "./metadata-commands.js";

/** Charged per entry on top of its bytes: the key, the entry object, the LRU's slots. */
export const READ_CACHE_ENTRY_OVERHEAD_BYTES = 256;
/** Keys remembered after one miss: one per this many bytes of the budget (32,768 for the default 128 MiB). */
const MISSED_KEYS_PER_BYTES = 4096;

interface Entry {
  readonly version: number;
  readonly bytes: Buffer;
}

export class ReadCache {
  private readonly entries: LRUCache<string, Entry> | null;
  /** Keys that missed once: a second miss fills the cache. */
  private readonly missedOnce: LRUCache<string, true> | null;
  private readonly lookups: Counter<"result"> | null;

  /**
   * `maxBytes` bounds the cached bytes plus READ_CACHE_ENTRY_OVERHEAD_BYTES per entry (0 turns
   * the cache off); values over `valueBytesMax` are never cached.
   */
  constructor(
    readonly maxBytes: number,
    readonly valueBytesMax: number,
    registry?: Registry,
  ) {
    this.entries =
      maxBytes > 0
        ? new LRUCache<string, Entry>({
            maxSize: maxBytes,
            sizeCalculation: (entry, key) =>
              entry.bytes.length + key.length * 2 + READ_CACHE_ENTRY_OVERHEAD_BYTES,
          })
        : null;
    this.missedOnce =
      maxBytes > 0
        ? new LRUCache<string, true>({ max: Math.max(1, Math.ceil(maxBytes / MISSED_KEYS_PER_BYTES)) })
        : null;
    this.lookups = registry === undefined ? null : this.register(registry);
  }

  /** Whether this version's value is one the cache can hold (small and not empty). */
  wants(blob: BlobMeta): boolean {
    return this.entries !== null && blob.size > 0 && blob.size <= this.valueBytesMax;
  }

  /**
   * Whether a whole read of this version, which missed, should be offered once a replica
   * delivered it: true on the key's second miss, or when an older version of it is cached;
   * a first miss only remembers the key.
   */
  admitsRead(blob: BlobMeta): boolean {
    if (!this.wants(blob) || this.entries === null || this.missedOnce === null) return false;
    if (this.entries.has(blob.key) || this.missedOnce.delete(blob.key)) return true;
    this.missedOnce.set(blob.key, true);
    return false;
  }

  /** The bytes of exactly this version, checked against its CRC32C; undefined on a miss. */
  get(blob: BlobMeta): Buffer | undefined {
    if (this.entries === null || blob.size > this.valueBytesMax) return undefined;
    const entry = this.entries.get(blob.key);
    if (entry === undefined || entry.version !== blob.version) {
      this.lookups?.inc({ result: "miss" });
      return undefined;
    }
    if (entry.bytes.length !== blob.size || crc32c(entry.bytes) !== blob.crc32c) {
      // Memory that changed under us: never serve it, read a replica instead.
      this.entries.delete(blob.key);
      this.lookups?.inc({ result: "corrupt" });
      return undefined;
    }
    this.lookups?.inc({ result: "hit" });
    return entry.bytes;
  }

  /**
   * A new version of `blob.key` was just committed here: keeps its bytes when the whole body
   * is given and small enough, else drops what is cached for the key (it names an older
   * version, which no read will ask for again).
   */
  written(blob: BlobMeta, body: readonly Uint8Array[] | null): void {
    if (body === null || !this.wants(blob)) this.forget(blob.key);
    else this.offer(blob, body);
  }

  /**
   * Offers the whole value of `blob` as a replica delivered it (in chunks). Kept, in a buffer
   * of its own, only when the sizes and the CRC32C match the metadata.
   */
  offer(blob: BlobMeta, chunks: readonly Uint8Array[]): void {
    if (!this.wants(blob) || this.entries === null) return;
    let length = 0;
    for (const chunk of chunks) length += chunk.length;
    if (length !== blob.size) return;
    // A buffer of its own, not Buffer.concat's: that one takes a value under 4 KiB from the
    // shared 8 KiB pool, and the entry would keep the whole slab alive. The chunks themselves
    // may be views of larger socket or gRPC buffers.
    const bytes = Buffer.allocUnsafeSlow(length);
    let at = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, at);
      at += chunk.length;
    }
    if (crc32c(bytes) !== blob.crc32c) return;
    this.entries.set(blob.key, { version: blob.version, bytes });
  }

  /** Drops what is cached for `key` (its version was just deleted here). */
  forget(key: string): void {
    this.entries?.delete(key);
  }

  get size(): { readonly entries: number; readonly bytes: number } {
    return { entries: this.entries?.size ?? 0, bytes: this.entries?.calculatedSize ?? 0 };
  }

  private register(registry: Registry): Counter<"result"> {
    const registers = [registry];
    const size = (): { readonly entries: number; readonly bytes: number } => this.size;
    new Gauge({
      name: "minikv_read_cache_bytes",
      help: "Bytes the read cache holds, each entry's bookkeeping included.",
      registers,
      collect() {
        this.set(size().bytes);
      },
    });
    new Gauge({
      name: "minikv_read_cache_entries",
      help: "Values the read cache holds.",
      registers,
      collect() {
        this.set(size().entries);
      },
    });
    return new Counter({
      name: "minikv_read_cache_lookups_total",
      help: "Read-cache lookups of whole small values by result: hit, miss, corrupt (failed its CRC32C check; dropped).",
      labelNames: ["result"],
      registers,
    });
  }
}
