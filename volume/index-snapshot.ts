import { promises as fsp } from "node:fs";
import { join } from "node:path";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { crc32c } from "../common/hashing.js";
import { ByteReader, ByteWriter, FormatError } from "./byte-buffer.js";
import { fsyncDirectory, removeIfExists, writeFully } from "./durable-fs.js";
import { SlotState } from "./key-index.js";
import type { IndexImage, KeyIndex } from "./key-index.js";
import { readU64, writeU64 } from "./record-codec.js";
import type { WalPosition } from "./wal.js";

/**
 * Index snapshots (docs/volume-format.md, "Index snapshot"): the whole index in one binary
 * file, `index.snapshot` in the data directory, replaced atomically (temp file, fsync,
 * rename, directory fsync). It names the WAL position it covers — restart loads it and
 * replays only the WAL after that position — and, per segment, the bytes it relies on.
 */

export const SNAPSHOT_FILE = "index.snapshot";
export const SNAPSHOT_MAGIC = Buffer.from("MKVSNAP1", "latin1");
export const SNAPSHOT_HEADER_BYTES = 64;
const SNAPSHOT_FORMAT_VERSION = 1;
/** Encoded entries per chunk; the event loop runs between chunks. */
const ENTRIES_PER_CHUNK = 32_768;
const SLOT_FIXED_BYTES = 56;

/** What a snapshot says beyond the index itself. */
export interface SnapshotCoverage {
  readonly wal: WalPosition;
  /** First segment number not yet used when the snapshot was taken. */
  readonly nextSegment: number;
  /** Per segment present then: the bytes written at capture (records before it are complete or garbage). */
  readonly segmentEnds: ReadonlyMap<number, number>;
  readonly createdAtMs: number;
}

export interface SnapshotInfo {
  readonly bytes: number;
  readonly entries: number;
}

/** Writes `image` as the snapshot covering `coverage`; returns when it is durable. */
export async function writeSnapshot(
  dataDir: string,
  image: IndexImage,
  coverage: SnapshotCoverage,
): Promise<SnapshotInfo> {
  const path = join(dataDir, SNAPSHOT_FILE);
  const tmp = `${path}.tmp`;
  const handle = await fsp.open(tmp, "w");
  let bodyCrc = 0;
  let position = SNAPSHOT_HEADER_BYTES;
  let entries = 0;
  try {
    for await (const chunk of encodeBody(image, coverage)) {
      bodyCrc = crc32c(chunk.bytes, bodyCrc);
      await writeFully(handle, chunk.bytes, position);
      position += chunk.bytes.length;
      entries += chunk.entries;
    }
    const header = encodeHeader(coverage, position - SNAPSHOT_HEADER_BYTES, bodyCrc, entries);
    await writeFully(handle, header, 0);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fsp.rename(tmp, path);
  await fsyncDirectory(dataDir);
  return { bytes: position, entries };
}

function encodeHeader(
  coverage: SnapshotCoverage,
  bodyBytes: number,
  bodyCrc: number,
  entries: number,
): Buffer {
  const header = Buffer.alloc(SNAPSHOT_HEADER_BYTES);
  SNAPSHOT_MAGIC.copy(header, 0);
  header.writeUInt32LE(SNAPSHOT_FORMAT_VERSION, 8);
  writeU64(header, 16, coverage.wal.file);
  writeU64(header, 24, coverage.wal.offset);
  header.writeUInt32LE(coverage.nextSegment, 32);
  header.writeUInt32LE(entries, 36);
  writeU64(header, 40, bodyBytes);
  header.writeUInt32LE(bodyCrc, 48);
  writeU64(header, 56, coverage.createdAtMs);
  header.writeUInt32LE(headerCrcOf(header), 12);
  return header;
}

function headerCrcOf(header: Buffer): number {
  return crc32c(header.subarray(16), crc32c(header.subarray(0, 12)));
}

async function* encodeBody(
  image: IndexImage,
  coverage: SnapshotCoverage,
): AsyncGenerator<{ bytes: Buffer; entries: number }> {
  const w = new ByteWriter(64 * 1024);
  w.u32(coverage.segmentEnds.size);
  for (const [segment, end] of coverage.segmentEnds) w.u32(segment).u64(end);
  w.u32(image.contentTypes.length);
  for (const contentType of image.contentTypes) w.str16(contentType);
  yield { bytes: Buffer.from(w.finish()), entries: 0 };
  for (let start = 0; start < image.slots; start += ENTRIES_PER_CHUNK) {
    yield encodeSlots(image, start, Math.min(image.slots, start + ENTRIES_PER_CHUNK));
    await yieldToLoop();
  }
  const tail = new ByteWriter(64 * 1024);
  tail.u32(image.prepared.length);
  for (const p of image.prepared) {
    tail.str16(p.txid).str16(p.key).str16(p.contentType).u32(p.segment).u64(p.offset);
    tail.u64(p.recordBytes).u64(p.size).u32(p.crc32c).u64(p.createdAtMs);
  }
  tail.u32(image.recentDecisions.length);
  for (const [txid, version] of image.recentDecisions) tail.str16(txid).u64(version);
  yield { bytes: Buffer.from(tail.finish()), entries: 0 };
}

function encodeSlots(image: IndexImage, start: number, end: number): { bytes: Buffer; entries: number } {
  let bytes = 4;
  for (let slot = start; slot < end; slot++) {
    if (image.state[slot] === SlotState.FREE) continue;
    bytes +=
      SLOT_FIXED_BYTES +
      Buffer.byteLength(image.keys[slot] ?? "") +
      Buffer.byteLength(image.txids[slot] ?? "");
  }
  const buf = Buffer.allocUnsafe(bytes);
  let at = 4;
  let entries = 0;
  for (let slot = start; slot < end; slot++) {
    const state = image.state[slot] ?? SlotState.FREE;
    if (state === SlotState.FREE) continue;
    const key = image.keys[slot] ?? "";
    const txid = image.txids[slot] ?? "";
    at = buf.writeUInt8(state, at);
    at = buf.writeUInt8(image.shard[slot] ?? 0, at);
    at = buf.writeUInt16LE(image.contentTypeId[slot] ?? 0, at);
    at = buf.writeUInt32LE(image.segment[slot] ?? 0, at);
    at = buf.writeUInt32LE(image.crc[slot] ?? 0, at);
    at = buf.writeDoubleLE(image.offset[slot] ?? 0, at);
    at = buf.writeDoubleLE(image.recordBytes[slot] ?? 0, at);
    at = buf.writeDoubleLE(image.size[slot] ?? 0, at);
    at = buf.writeDoubleLE(image.version[slot] ?? 0, at);
    at = buf.writeDoubleLE(image.createdAtMs[slot] ?? 0, at);
    at = buf.writeUInt16LE(Buffer.byteLength(key), at);
    at = buf.writeUInt16LE(Buffer.byteLength(txid), at);
    at += buf.write(key, at, "utf8");
    at += buf.write(txid, at, "utf8");
    entries += 1;
  }
  buf.writeUInt32LE(entries, 0);
  return { bytes: buf, entries };
}

/**
 * Loads the snapshot into an empty `index`. Returns its coverage, undefined when there is
 * none, or a reason string when it is unusable (the caller rebuilds from the logs). On a
 * reason the index may hold part of the snapshot: the caller discards it.
 */
export async function loadSnapshot(
  dataDir: string,
  index: KeyIndex,
): Promise<SnapshotCoverage | undefined | string> {
  let file: Buffer;
  try {
    file = await fsp.readFile(join(dataDir, SNAPSHOT_FILE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    return `unreadable: ${(err as Error).message}`;
  }
  const header = file.subarray(0, SNAPSHOT_HEADER_BYTES);
  if (header.length < SNAPSHOT_HEADER_BYTES || !header.subarray(0, 8).equals(SNAPSHOT_MAGIC))
    return "bad magic";
  if (headerCrcOf(header) !== header.readUInt32LE(12)) return "header CRC mismatch";
  if (header.readUInt32LE(8) !== SNAPSHOT_FORMAT_VERSION) return "unknown format version";
  const bodyBytes = readU64(header, 40);
  if (bodyBytes === undefined || SNAPSHOT_HEADER_BYTES + bodyBytes !== file.length) return "length mismatch";
  if (crc32c(file.subarray(SNAPSHOT_HEADER_BYTES)) !== header.readUInt32LE(48)) return "body CRC mismatch";
  try {
    return decodeBody(file, header, index);
  } catch (err) {
    if (err instanceof FormatError) return `malformed: ${err.message}`;
    throw err;
  }
}

function decodeBody(file: Buffer, header: Buffer, index: KeyIndex): SnapshotCoverage {
  const r = new ByteReader(file, SNAPSHOT_HEADER_BYTES);
  const segmentEnds = new Map<number, number>();
  for (let n = r.u32(); n > 0; n--) segmentEnds.set(r.u32(), r.u64());
  const contentTypes: string[] = [];
  for (let n = r.u32(); n > 0; n--) contentTypes.push(r.str16());
  if (contentTypes[0] !== "") throw new FormatError("content type 0 is not empty");
  const entries = header.readUInt32LE(36);
  index.beginRestore(entries, contentTypes.slice(1));
  if (index.contentTypeCount() !== contentTypes.length) throw new FormatError("duplicate content types");
  let restored = 0;
  while (restored < entries) {
    const inChunk = r.u32();
    decodeSlots(file, r, inChunk, index, contentTypes.length);
    restored += inChunk;
  }
  if (restored !== entries) throw new FormatError("entry count mismatch");
  for (let n = r.u32(); n > 0; n--) {
    index.addPrepared({
      txid: r.str16(),
      key: r.str16(),
      contentType: r.str16(),
      segment: r.u32(),
      offset: r.u64(),
      recordBytes: r.u64(),
      size: r.u64(),
      crc32c: r.u32(),
      createdAtMs: r.u64(),
    });
  }
  for (let n = r.u32(); n > 0; n--) index.rememberDecision(r.str16(), r.u64());
  if (r.remaining !== 0) throw new FormatError("bytes after the last section");
  const wal = { file: readU64(header, 16) ?? 0, offset: readU64(header, 24) ?? 0 };
  return { wal, nextSegment: header.readUInt32LE(32), segmentEnds, createdAtMs: readU64(header, 56) ?? 0 };
}

function decodeSlots(
  file: Buffer,
  r: ByteReader,
  count: number,
  index: KeyIndex,
  contentTypes: number,
): void {
  let at = r.at;
  for (let i = 0; i < count; i++) {
    if (at + SLOT_FIXED_BYTES > file.length) throw new FormatError("truncated entry");
    const state = file.readUInt8(at);
    const keyBytes = file.readUInt16LE(at + 52);
    const txidBytes = file.readUInt16LE(at + 54);
    const end = at + SLOT_FIXED_BYTES + keyBytes + txidBytes;
    if (end > file.length) throw new FormatError("truncated entry");
    if (state !== SlotState.LIVE && state !== SlotState.DELETED) throw new FormatError("bad slot state");
    const contentTypeId = file.readUInt16LE(at + 2);
    if (contentTypeId >= contentTypes) throw new FormatError("unknown content type id");
    index.restoreSlot({
      state,
      shard: file.readUInt8(at + 1),
      contentTypeId,
      segment: file.readUInt32LE(at + 4),
      crc: file.readUInt32LE(at + 8),
      offset: file.readDoubleLE(at + 12),
      recordBytes: file.readDoubleLE(at + 20),
      size: file.readDoubleLE(at + 28),
      version: file.readDoubleLE(at + 36),
      createdAtMs: file.readDoubleLE(at + 44),
      key: file.toString("utf8", at + SLOT_FIXED_BYTES, at + SLOT_FIXED_BYTES + keyBytes),
      txid: file.toString("utf8", at + SLOT_FIXED_BYTES + keyBytes, end),
    });
    at = end;
  }
  r.at = at;
}

/** Deletes the snapshot (a fresh volume, or tests forcing a full rebuild). */
export async function removeSnapshot(dataDir: string): Promise<void> {
  if (await removeIfExists(join(dataDir, SNAPSHOT_FILE))) await fsyncDirectory(dataDir);
}
