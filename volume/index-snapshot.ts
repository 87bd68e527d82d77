import { promises as fsp } from "node:fs";
import { join } from "node:path";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { endianness } from "node:os";
import { assert } from "../common/errors.js";
import { crc32c } from "../common/hashing.js";
import { ByteReader, ByteWriter, FormatError } from "./byte-buffer.js";
import { fsyncDirectory, removeIfExists, writeFully } from "./durable-fs.js";
import { SlotState, restoredCapacity } from "./key-index.js";
import type { IndexColumns, IndexImage, KeyIndex } from "./key-index.js";
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
  /** Called before the new snapshot replaces the old one; throwing leaves the old one. */
  beforeReplace: () => void = () => undefined,
): Promise<SnapshotInfo> {
  // Columns are stored as the host lays out typed arrays; the format says little-endian.
  assert(endianness() === "LE", "index snapshots are written on little-endian hosts");
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
  beforeReplace();
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
  w.u32(image.slots);
  const head = w.finish();
  const entries = image.state.reduce((count, state) => count + (state === SlotState.FREE ? 0 : 1), 0);
  yield { bytes: Buffer.concat([head, padding(SNAPSHOT_HEADER_BYTES + head.length)]), entries };
  let written = SNAPSHOT_HEADER_BYTES + head.length + padding(SNAPSHOT_HEADER_BYTES + head.length).length;
  for (const column of columnsOf(image)) {
    const bytes = Buffer.from(column.buffer, column.byteOffset, column.byteLength);
    const pad = padding(written + bytes.length);
    yield { bytes: Buffer.concat([bytes, pad]), entries: 0 };
    written += bytes.length + pad.length;
  }
  await yieldToLoop();
  yield { bytes: new ByteWriter(8).u64(image.keyBytes.length).finish(), entries: 0 };
  yield { bytes: image.keyBytes, entries: 0 };
  yield { bytes: new ByteWriter(8).u64(image.txidBytes.length).finish(), entries: 0 };
  yield { bytes: image.txidBytes, entries: 0 };
  yield { bytes: encodeTail(image), entries: 0 };
}

/** The columns in file order (docs/volume-format.md, "Index snapshot"). */
function columnsOf(image: IndexColumns): ArrayBufferView[] {
  return [
    image.state,
    image.shard,
    image.contentTypeId,
    image.segment,
    image.crc,
    image.offset,
    image.recordBytes,
    image.size,
    image.version,
    image.createdAtMs,
    image.keyLengths,
    image.txidLengths,
  ];
}

function encodeTail(image: IndexImage): Buffer {
  const tail = new ByteWriter(64 * 1024);
  tail.u32(image.prepared.length);
  for (const p of image.prepared) {
    tail.str16(p.txid).str16(p.key).str16(p.contentType).u32(p.segment).u64(p.offset);
    tail.u64(p.recordBytes).u64(p.size).u32(p.crc32c).u64(p.createdAtMs);
  }
  tail.u32(image.recentDecisions.length);
  for (const [txid, version] of image.recentDecisions) tail.str16(txid).u64(version);
  return Buffer.from(tail.finish());
}

/** Zero bytes that bring `position` to a multiple of 8 (columns start 8-aligned). */
function padding(position: number): Buffer {
  return Buffer.alloc((8 - (position % 8)) % 8);
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
  const slots = r.u32();
  r.at += padding(r.at).length;
  const capacity = restoredCapacity(slots);
  // Allocated at the index's final capacity, so restore() takes them without a copy.
  const column = <T extends Uint8Array | Uint16Array | Uint32Array | Float64Array>(
    make: (n: number) => T,
  ): T => {
    const out = make(capacity);
    const bytes = slots * out.BYTES_PER_ELEMENT;
    new Uint8Array(out.buffer, out.byteOffset, bytes).set(r.bytes(bytes));
    r.at += padding(r.at).length;
    return out;
  };
  const state = column((n) => new Uint8Array(n));
  const shard = column((n) => new Uint8Array(n));
  const contentTypeId = column((n) => new Uint16Array(n));
  const segment = column((n) => new Uint32Array(n));
  const crc = column((n) => new Uint32Array(n));
  const offset = column((n) => new Float64Array(n));
  const recordBytes = column((n) => new Float64Array(n));
  const size = column((n) => new Float64Array(n));
  const version = column((n) => new Float64Array(n));
  const createdAtMs = column((n) => new Float64Array(n));
  const keyLengths = column((n) => new Uint16Array(n));
  const txidLengths = column((n) => new Uint16Array(n));
  const keyBytes = r.bytes(r.u64());
  const txidBytes = r.bytes(r.u64());
  try {
    index.restore({
      slots,
      state,
      shard,
      contentTypeId,
      segment,
      crc,
      offset,
      recordBytes,
      size,
      version,
      createdAtMs,
      keyLengths,
      keyBytes,
      txidLengths,
      txidBytes,
      contentTypes,
    });
  } catch (err) {
    if (err instanceof RangeError) throw new FormatError(err.message);
    throw err;
  }
  decodeTail(r, index);
  if (r.remaining !== 0) throw new FormatError("bytes after the last section");
  const wal = { file: readU64(header, 16) ?? 0, offset: readU64(header, 24) ?? 0 };
  return { wal, nextSegment: header.readUInt32LE(32), segmentEnds, createdAtMs: readU64(header, 56) ?? 0 };
}

function decodeTail(r: ByteReader, index: KeyIndex): void {
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
  const decisions: [string, number][] = [];
  for (let n = r.u32(); n > 0; n--) decisions.push([r.str16(), r.u64()]);
  index.restoreDecisions(decisions);
}

/** Deletes the snapshot (a fresh volume, or tests forcing a full rebuild). */
export async function removeSnapshot(dataDir: string): Promise<void> {
  if (await removeIfExists(join(dataDir, SNAPSHOT_FILE))) await fsyncDirectory(dataDir);
}
