/**
 * Snapshots as files, one per index: `snapshot-<index>.snap` in one directory. A snapshot is
 * written to a temporary file, fsynced, renamed into place, and the directory fsynced, so a
 * crash leaves either the whole snapshot or none of it (stray temporaries are removed on
 * open).
 *
 * File format (big-endian):
 *   "MKVSNAP1", u32 headerLength, u32 crc32c(header), header (JSON {meta, peerAddresses})
 *   frames:  u32 length (≥ 1), u32 crc32c(bytes), bytes
 *   end:     u32 0xFFFFFFFF, u32 crc32c of all bytes, u64 total bytes
 * open() checks every CRC before handing the snapshot out, and reading checks them again.
 */
import { randomBytes } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { mkdir, open, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { ErrorCode, MinikvError } from "../../common/errors.js";
import { crc32c } from "../../common/hashing.js";
import { limits } from "../../common/limits.js";
import type { SnapshotMeta } from "./core/types.js";
import type { PeerAddresses, SnapshotInfo, SnapshotSink, SnapshotSource, SnapshotStore } from "./storage.js";

const MAGIC = Buffer.from("MKVSNAP1", "latin1");
const END_MARK = 0xffffffff;
const FILE_PATTERN = /^snapshot-(\d{20})\.snap$/;
/** A header larger than this is corruption, not a snapshot. */
const HEADER_BYTES_MAX = 16 * 1024 * 1024;

function fileName(index: number): string {
  return `snapshot-${String(index).padStart(20, "0")}.snap`;
}

function corrupt(file: string, message: string): MinikvError {
  return new MinikvError(ErrorCode.DATA_CORRUPT, `snapshot ${file}: ${message}`);
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function u32Pair(a: number, b: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeUInt32BE(a, 0);
  out.writeUInt32BE(b, 4);
  return out;
}

/** Reads exactly `length` bytes at `position`, or throws DATA_CORRUPT (truncated). */
async function readExact(fh: FileHandle, position: number, length: number, file: string): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) throw corrupt(file, "truncated");
    done += bytesRead;
  }
  return buffer;
}

interface Header {
  readonly info: Omit<SnapshotInfo, "sizeBytes">;
  readonly framesAt: number;
}

async function readHeader(fh: FileHandle, file: string): Promise<Header> {
  const head = await readExact(fh, 0, 16, file);
  if (!head.subarray(0, 8).equals(MAGIC)) throw corrupt(file, "bad magic");
  const length = head.readUInt32BE(8);
  if (length > HEADER_BYTES_MAX) throw corrupt(file, "header too large");
  const body = await readExact(fh, 16, length, file);
  if (crc32c(body) !== head.readUInt32BE(12)) throw corrupt(file, "header fails its CRC");
  const parsed = JSON.parse(body.toString("utf8")) as Omit<SnapshotInfo, "sizeBytes">;
  return { info: { meta: parsed.meta, peerAddresses: parsed.peerAddresses }, framesAt: 16 + length };
}

/** Yields the frames' bytes, checking each CRC and the end record. */
async function* readFrames(fh: FileHandle, from: number, file: string): AsyncGenerator<Buffer, number> {
  let position = from;
  let running = 0;
  let total = 0;
  for (;;) {
    const frameHead = await readExact(fh, position, 8, file);
    const length = frameHead.readUInt32BE(0);
    if (length === END_MARK) {
      const end = await readExact(fh, position + 8, 8, file);
      if (frameHead.readUInt32BE(4) !== running) throw corrupt(file, "whole-file CRC mismatch");
      if (Number(end.readBigUInt64BE(0)) !== total) throw corrupt(file, "length mismatch");
      return total;
    }
    if (length === 0 || length > limits.grpcMessageBytesMax)
      throw corrupt(file, `bad frame length ${length}`);
    const bytes = await readExact(fh, position + 8, length, file);
    if (crc32c(bytes) !== frameHead.readUInt32BE(4))
      throw corrupt(file, `frame at ${position} fails its CRC`);
    running = crc32c(bytes, running);
    total += length;
    position += 8 + length;
    yield bytes;
  }
}

/** Checks a whole file and returns its info. */
async function verifyFile(path: string, file: string): Promise<SnapshotInfo> {
  const fh = await open(path, "r");
  try {
    const header = await readHeader(fh, file);
    const frames = readFrames(fh, header.framesAt, file);
    let step = await frames.next();
    while (step.done !== true) step = await frames.next();
    return { ...header.info, sizeBytes: step.value };
  } finally {
    await fh.close();
  }
}

class FileSnapshotSink implements SnapshotSink {
  private sizeBytes = 0;
  private running = 0;
  private finished = false;

  constructor(
    private readonly store: FileSnapshotStore,
    private readonly fh: FileHandle,
    private readonly tempPath: string,
    private readonly info: Omit<SnapshotInfo, "sizeBytes">,
  ) {}

  async write(chunk: Uint8Array): Promise<void> {
    if (this.finished) throw new Error("snapshot sink is finished");
    for (let at = 0; at < chunk.byteLength; at += limits.streamChunkBytes) {
      const piece = chunk.subarray(at, Math.min(chunk.byteLength, at + limits.streamChunkBytes));
      await this.fh.write(Buffer.concat([u32Pair(piece.byteLength, crc32c(piece)), piece]));
      this.running = crc32c(piece, this.running);
      this.sizeBytes += piece.byteLength;
    }
  }

  async commit(): Promise<SnapshotInfo> {
    if (this.finished) throw new Error("snapshot sink is finished");
    this.finished = true;
    const end = Buffer.alloc(16);
    end.writeUInt32BE(END_MARK, 0);
    end.writeUInt32BE(this.running, 4);
    end.writeBigUInt64BE(BigInt(this.sizeBytes), 8);
    try {
      await this.fh.write(end);
      await this.fh.sync();
      await this.fh.close();
    } catch (err) {
      await this.discard();
      throw err;
    }
    const info: SnapshotInfo = { ...this.info, sizeBytes: this.sizeBytes };
    await this.store.install(this.tempPath, info);
    return info;
  }

  async abort(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    await this.discard();
  }

  private async discard(): Promise<void> {
    await this.fh.close().catch(() => undefined);
    await rm(this.tempPath, { force: true });
  }
}

export class FileSnapshotStore implements SnapshotStore {
  private readonly infos = new Map<number, SnapshotInfo>();

  private constructor(private readonly dir: string) {}

  /**
   * Opens the snapshot directory (creating it), removing unfinished temporaries. Snapshots
   * that fail verification are left on disk but not listed.
   */
  static async open(dir: string): Promise<FileSnapshotStore> {
    await mkdir(dir, { recursive: true });
    const store = new FileSnapshotStore(dir);
    for (const name of await readdir(dir)) {
      if (name.endsWith(".tmp")) await rm(join(dir, name), { force: true });
      const match = FILE_PATTERN.exec(name);
      if (match === null) continue;
      try {
        const info = await verifyFile(join(dir, name), name);
        if (info.meta.index === Number(match[1])) store.infos.set(info.meta.index, info);
      } catch (err) {
        if (!(err instanceof MinikvError) && !(err instanceof SyntaxError)) throw err;
      }
    }
    return store;
  }

  async create(meta: SnapshotMeta, peerAddresses: PeerAddresses): Promise<SnapshotSink> {
    if (!Number.isSafeInteger(meta.index) || meta.index < 1 || !Number.isSafeInteger(meta.term)) {
      throw new MinikvError(ErrorCode.INVALID_ARGUMENT, `invalid snapshot index ${meta.index}`);
    }
    const info = { meta, peerAddresses };
    const header = Buffer.from(JSON.stringify(info), "utf8");
    const tempPath = join(this.dir, `${fileName(meta.index)}.${randomBytes(6).toString("hex")}.tmp`);
    const fh = await open(tempPath, "wx");
    try {
      await fh.write(Buffer.concat([MAGIC, u32Pair(header.length, crc32c(header)), header]));
    } catch (err) {
      await fh.close();
      await rm(tempPath, { force: true });
      throw err;
    }
    return new FileSnapshotSink(this, fh, tempPath, structuredClone(info));
  }

  /** Moves a finished, fsynced temporary into place and makes it visible. */
  async install(tempPath: string, info: SnapshotInfo): Promise<void> {
    await rename(tempPath, join(this.dir, fileName(info.meta.index)));
    await fsyncDir(this.dir);
    this.infos.set(info.meta.index, info);
  }

  list(): Promise<SnapshotInfo[]> {
    return Promise.resolve([...this.infos.values()].sort((a, b) => b.meta.index - a.meta.index));
  }

  async latest(): Promise<SnapshotInfo | null> {
    return (await this.list())[0] ?? null;
  }

  async open(index: number): Promise<SnapshotSource> {
    const info = this.infos.get(index);
    if (info === undefined) throw new MinikvError(ErrorCode.NOT_FOUND, `no snapshot at index ${index}`);
    const name = fileName(index);
    const path = join(this.dir, name);
    await verifyFile(path, name);
    const fh = await open(path, "r");
    let closed = false;
    const close = async (): Promise<void> => {
      if (closed) return;
      closed = true;
      await fh.close();
    };
    async function* chunks(): AsyncIterable<Uint8Array> {
      const header = await readHeader(fh, name);
      yield* readFrames(fh, header.framesAt, name);
    }
    return { info, chunks, close };
  }

  async prune(retain: number): Promise<void> {
    const stale = (await this.list()).slice(Math.max(1, retain));
    for (const info of stale) {
      this.infos.delete(info.meta.index);
      await rm(join(this.dir, fileName(info.meta.index)), { force: true });
    }
    if (stale.length > 0) await fsyncDir(this.dir);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
