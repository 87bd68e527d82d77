/**
 * Bounds and sizes of the on-disk engine that only the volume uses (the system-wide ones
 * live in common/limits.ts). Every number the formats in docs/volume-format.md depend on is
 * here, so that a change to one is a visible format change.
 */
export const engineLimits = {
  /** A value is checksummed in blocks of this size; a range read verifies only its blocks. */
  valueBlockBytes: 64 * 1024,
  /** Transaction ids are chosen by coordinators; longer ones are refused (INVALID_ARGUMENT). */
  txidBytesMax: 256,
  /** A WAL file is rolled once it passes this size; whole files are retired after a snapshot. */
  walFileBytesMax: 64 * 1024 * 1024,
  /**
   * More WAL records than this waiting: a group-commit round takes the older half, so that
   * writers and the disk overlap (volume/group-commit.ts).
   */
  walHalveBatchAbove: 32,
  /** Committed and aborted txids remembered for idempotent commit/abort and txid-reuse checks. */
  recentDecisionsMax: 65_536,
  /** Records in one segment whose keys a bloom filter is sized for, at least. */
  bloomKeysMin: 64,
  /** Largest bloom filter (bits) we build or accept from disk: 64 MiB of bits. */
  bloomBitsMax: 512 * 1024 * 1024,
  /** Hash functions of a bloom filter, at most. */
  bloomHashesMax: 30,
  /** Content types interned in the index, at most (an id per distinct Content-Type). */
  contentTypesMax: 65_535,
  /** How long close() waits for in-flight writes before failing them with SHUTTING_DOWN. */
  closeDrainMs: 5_000,
  /** Bytes a prepare collects before one positional write (a record that fits goes in one write). */
  prepareWriteBufferBytes: 128 * 1024,
  /** Each of the two buffers a larger record streams through (one filling, one being written). */
  prepareStreamBufferBytes: 1024 * 1024,
  /** A large prepare starts a background fsync of its segment after each this many bytes written. */
  prepareWriteBehindBytes: 16 * 1024 * 1024,
  /**
   * A prepare of unknown length is held in memory up to this many bytes; one that ends by
   * then is written into the active segment like a sized one, a longer one gets a segment
   * of its own.
   */
  unsizedInlineBytesMax: 1024 * 1024,
  /**
   * The WAL and the active segment keep between one and two of these zeroed and fsynced
   * ahead of their end (volume/zero-fill.ts), written one at a time.
   */
  zeroFillChunkBytes: 1024 * 1024,
  /**
   * Reads of at most this many bytes (a small record read whole, a record's head) are
   * blocking preads on the event loop rather than thread-pool reads (durable-fs.ts readAtNow).
   */
  syncReadBytesMax: 64 * 1024,
  /**
   * The restart reserve kept on each file system the volume writes (volume/restart-reserve.ts),
   * at most 1/16 of the file system: room for what opening writes on a full disk.
   */
  restartReserveBytes: 16 * 1024 * 1024,
  /**
   * Free space new values may not take (at most 1/32 of the file system): left for
   * tombstones, decisions, index snapshots and compaction, so that a full volume can still
   * delete and compact.
   */
  deleteHeadroomBytes: 16 * 1024 * 1024,
  /**
   * Room a compaction wants beyond the bytes the index references in its sources: for the
   * decision records it keeps, the output's bloom filter and the marker.
   */
  compactionRoomMarginBytes: 256 * 1024,
  /** Bytes read at once while scanning a segment's records. */
  scanReadBytes: 1024 * 1024,
} as const;
