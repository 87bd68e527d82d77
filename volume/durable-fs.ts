import { promises as fsp, constants as fsConstants, readSync } from "node:fs";
import { dirname } from "node:path";
import { ErrorCode, MinikvError, asError, isOutOfSpace } from "../common/errors.js";

/**
 * File-system steps the engine's durability rests on. A rename or a new file is durable
 * only once its directory is fsynced; a file's bytes only once the file is.
 */

/** fsyncs a directory so that creations, renames and unlinks in it survive a crash. */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await fsp.open(dir, fsConstants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `path` with `data` atomically: writes `path.tmp`, fsyncs it, renames it over
 * `path`, fsyncs the directory. A crash leaves either the old file or the new one.
 */
export async function writeFileAtomic(path: string, chunks: readonly Uint8Array[]): Promise<void> {
  const tmp = `${path}.tmp`;
  const handle = await fsp.open(tmp, "w");
  try {
    for (const chunk of chunks) await writeFully(handle, chunk, null);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fsp.rename(tmp, path);
  await fsyncDirectory(dirname(path));
}

/** Writes all of `data` at `position` (null: at the current file position). */
export async function writeFully(
  handle: fsp.FileHandle,
  data: Uint8Array,
  position: number | null,
): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await handle.write(
      data,
      done,
      data.length - done,
      position === null ? null : position + done,
    );
    if (bytesWritten <= 0) throw new Error("write made no progress");
    done += bytesWritten;
  }
}

/**
 * Writes `buffers` back to back from `position` with one writev (no copy into one buffer);
 * a short write finishes with writeFully.
 */
export async function writevFully(
  handle: fsp.FileHandle,
  buffers: readonly Uint8Array[],
  position: number,
): Promise<void> {
  let total = 0;
  for (const buffer of buffers) total += buffer.length;
  const { bytesWritten } = await handle.writev(buffers as Uint8Array[], position);
  if (bytesWritten === total) return;
  if (bytesWritten <= 0) throw new Error("write made no progress");
  const rest = Buffer.concat(buffers, total).subarray(bytesWritten);
  await writeFully(handle, rest, position + bytesWritten);
}

/** Reads exactly `length` bytes at `position`, or fewer when the file ends first. */
export async function readAt(handle: fsp.FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === length ? buffer : buffer.subarray(0, done);
}

/**
 * readAt() without the thread pool: a blocking pread on the calling thread. For small
 * reads, which the page cache usually holds: handing a read to libuv's thread pool and
 * back costs 12–44 µs of CPU per read on a 2-vCPU VM (thread wake-ups), a 4 KiB pread from
 * the page cache about 1.3 µs (docs/BENCHMARKS.md, "Small reads"). A read the cache does not hold
 * blocks the event loop for one disk read, so keep `length` small. Errors reject, as
 * readAt()'s do.
 */
export function readAtNow(handle: fsp.FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let done = 0;
  try {
    while (done < length) {
      const bytesRead = readSync(handle.fd, buffer, done, length - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
  } catch (err) {
    return Promise.reject(asError(err));
  }
  return Promise.resolve(done === length ? buffer : buffer.subarray(0, done));
}

/** Deletes a file if it exists; fsync of the directory is the caller's. */
export async function removeIfExists(path: string): Promise<boolean> {
  try {
    await fsp.unlink(path);
    return true;
  } catch (err) {
    if (isNodeError(err, "ENOENT")) return false;
    throw err;
  }
}

export interface DiskSpace {
  readonly freeBytes: number;
  readonly totalBytes: number;
}

/** Free and total bytes of the file system holding `dir` (what an unprivileged writer may use). */
export async function diskSpaceOf(dir: string): Promise<DiskSpace> {
  const stats = await fsp.statfs(dir);
  return { freeBytes: stats.bavail * stats.bsize, totalBytes: stats.blocks * stats.bsize };
}

export function isNodeError(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}

/** Maps a failed disk operation to the stable error codes: ENOSPC is DISK_FULL. */
export function diskError(err: unknown, what: string): MinikvError {
  if (err instanceof MinikvError) return err;
  const code = isOutOfSpace(err) ? ErrorCode.DISK_FULL : ErrorCode.INTERNAL;
  const message = err instanceof Error ? err.message : String(err);
  return new MinikvError(code, `${what}: ${message}`, { cause: err });
}
