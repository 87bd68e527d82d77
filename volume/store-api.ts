/**
 * The contract between the volume's storage engine and the servers in front of it (gRPC
 * service, HTTP read endpoint, registration, prepared-transaction resolver).
 *
 * Durability: every promise below that resolves after a state change resolves only once the
 * change is fsynced (WAL and, for values, the segment holding the bytes).
 * Errors are MinikvError with a stable code (common/errors.ts).
 */

/** What a coordinator sends first in a prepare (proto: PrepareHeader). */
export interface PrepareHeader {
  readonly txid: string;
  readonly key: string;
  /** Exact value length in bytes (ignored with `sizeUnknown`). */
  readonly size: number;
  /** CRC32C (Castagnoli) of the whole value (ignored with `crc32cUnknown` or `sizeUnknown`). */
  readonly crc32c: number;
  readonly contentType: string;
  /** The sender learns the CRC32C only at the end: the volume computes it (PrepareResult). */
  readonly crc32cUnknown?: boolean;
  /** The value is whatever the body carries (implies `crc32cUnknown`); its length is in PrepareResult. */
  readonly sizeUnknown?: boolean;
}

/** A prepare's "yes" vote: the stored value's length and CRC32C, computed over the bytes fsynced. */
export interface PrepareResult {
  readonly size: number;
  readonly crc32c: number;
}

/** A stored value (committed) or a prepared one, as the index knows it. */
export interface StoredValueInfo {
  readonly key: string;
  readonly size: number;
  readonly crc32c: number;
  /** Metadata version (the coordinator's Raft index); 0 while prepared. */
  readonly version: number;
  readonly contentType: string;
  readonly createdAtMs: number;
  readonly txid: string;
  readonly prepared: boolean;
}

export interface ReadOptions {
  /** First byte of the value to return. */
  readonly offset?: number;
  /** Bytes to return; undefined means to the end of the value. */
  readonly length?: number;
  /** When set, fail with KEY_NOT_FOUND unless this exact version is stored. */
  readonly version?: number;
}

export interface ChecksumResult {
  readonly key: string;
  readonly size: number;
  readonly version: number;
  /** Computed now over the bytes on disk. */
  readonly crc32c: number;
  /** What the record says; differs from crc32c only when the data is corrupt. */
  readonly recordedCrc32c: number;
}

export interface CompactResult {
  readonly segmentsCompacted: number;
  readonly bytesFreed: number;
}

export interface StoreStats {
  readonly keys: number;
  readonly preparedCount: number;
  /** Bytes of live records on disk. */
  readonly liveBytes: number;
  /** Bytes of all segment files on disk. */
  readonly usedBytes: number;
  /** Usable capacity of the data directory's file system (free + used by us). */
  readonly capacityBytes: number;
}

export interface VolumeStore {
  /**
   * Phase one of a write: stores `body` as a prepared record for header.txid. Resolves when
   * the bytes and the prepare record are fsynced and size and CRC32C matched the header
   * (those the header gives), with the stored value's size and CRC32C (the "yes" vote).
   * Rejects with SIZE_MISMATCH, CHECKSUM_MISMATCH, TOO_LARGE (a value of unknown size past
   * the engine's maximum), DISK_FULL, OVERLOADED, INVALID_KEY, CONFLICT (txid reused),
   * CLIENT_ABORTED (body stream errored). After a
   * rejection nothing of the write is visible and its space is garbage for compaction.
   * Memory is bounded: the body is consumed chunk by chunk with backpressure.
   */
  prepare(header: PrepareHeader, body: AsyncIterable<Uint8Array>): Promise<PrepareResult>;
  /**
   * Makes a prepared record readable at `version`. Idempotent (committing a txid already
   * committed resolves). TX_NOT_FOUND when the txid is unknown (never prepared, or aborted).
   * Among committed versions of one key, the highest version is the one served.
   */
  commit(txid: string, version: number): Promise<void>;
  /** Frees a prepared record. Idempotent: aborting an unknown txid resolves. */
  abort(txid: string): Promise<void>;
  /**
   * Tombstones every stored version of `key` not newer than `version`. Resolves to whether
   * a committed version existed. Durable when it resolves.
   */
  delete(key: string, version: number): Promise<boolean>;
  /** The committed value served for `key`, or undefined. Never touches the disk. */
  stat(key: string): StoredValueInfo | undefined;
  /**
   * Streams a committed value (or a byte range). Every byte yielded has been checked against
   * a CRC32C first: a corrupt record is never served (DATA_CORRUPT, counted in metrics and
   * logged with its segment and offset). Memory is bounded by a few chunks of
   * limits.streamChunkBytes. Rejects KEY_NOT_FOUND, RANGE_NOT_SATISFIABLE.
   * Yielded buffers are owned by the caller.
   */
  read(key: string, options?: ReadOptions): AsyncIterable<Buffer>;
  /** Lists committed keys of one shard (or all when shard is undefined), in key order. */
  listKeys(shard: number | undefined, includePrepared: boolean): StoredValueInfo[];
  /** Re-reads a committed value where it lies and returns its CRC32C. */
  checksum(key: string): Promise<ChecksumResult>;
  /** Prepared records older than `ageMs`, oldest first (for the presumed-abort resolver). */
  preparedOlderThan(ageMs: number): StoredValueInfo[];
  /** Compacts now: segments holding records of `shard` (or every segment with garbage). */
  compact(options?: { shard?: number }): Promise<CompactResult>;
  stats(): StoreStats;
  /** Stops background work, writes an index snapshot, closes files. */
  close(): Promise<void>;
}
