/**
 * Every bound of the system in one place. A full queue or an oversized input answers with
 * an error code (TOO_LARGE, OVERLOADED) instead of growing.
 */
export const limits = {
  /** Keys: 1..1024 bytes of UTF-8 (DESIGN.md §4). */
  keyBytesMax: 1024,
  /** Largest blob accepted by one PUT. */
  blobBytesMax: 64 * 1024 ** 3,
  /** Streaming chunk size on gRPC and disk reads; a process holds a few of these per stream. */
  streamChunkBytes: 256 * 1024,
  /** gRPC message size cap (a chunk plus headers). */
  grpcMessageBytesMax: 4 * 1024 * 1024,
  /** Content-Type header stored with a blob. */
  contentTypeBytesMax: 256,
  /** Records appended per group-commit fsync. */
  walGroupRecordsMax: 1024,
  /** Writers waiting for a group commit before new ones get OVERLOADED. */
  walQueueDepthMax: 16_384,
  /** Prepared-but-undecided writes one volume holds at once. */
  preparedTxMax: 4096,
  /** Default segment roll size. */
  segmentBytesDefault: 256 * 1024 * 1024,
  /** Keys per ListKeys reply message. */
  listKeysBatchMax: 1000,
  /** Keys per LIST page over HTTP. */
  listPageKeysMax: 10_000,
  /** Raft entry payload. */
  raftEntryBytesMax: 1024 * 1024,
  /** ReadIndex requests one Raft leader holds while confirming leadership; more are dropped. */
  raftPendingReadsMax: 4096,
} as const;
