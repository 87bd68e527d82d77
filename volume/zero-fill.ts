import { promises as fsp } from "node:fs";
import { isOutOfSpace } from "../common/errors.js";
import { writevFully } from "./durable-fs.js";

/**
 * Whether the file system may take `bytes` more zeros. Zeros ahead are only there to make
 * durable writes cheaper: they may not take the free space the volume keeps for deletes,
 * compaction and restarts (DiskStore's `zeroRoom`, docs/volume-format.md "Zeroed tails").
 */
export type ZeroRoom = (bytes: number) => Promise<boolean>;

/**
 * Zeros written and fsynced ahead of the end of a file that grows at its end (the WAL, the
 * active segment), so that the O_DSYNC writes which make records durable land in blocks
 * the file already has. The file's size and block map then do not change, the file system
 * has no metadata to commit for the write, and a durable write returns sooner
 * (docs/volume-format.md, "Zeroed tails"). The zeros past the owner's end are not records:
 * readers stop at the owner's end, and recovery takes an all-zero tail for the end of the
 * file.
 *
 * A fill writes through a handle of its own and then fdatasyncs it. The region it fills
 * starts at or after the owner's end as it was when the fill started, so a record reserved
 * later may fall inside it: a write there waits for the fill first (`before`). A fill that
 * fails stops the filling for good, and writes go on as plain appends; a failure other
 * than a full disk is reported to `onError` (the file's state on disk is then unknown).
 * Each fill first asks `room` whether the file system may take its zeros; when it may not,
 * the filling stops the same way.
 */
export class ZeroFill {
  private filledTo: number;
  private inFlight: { readonly from: number; readonly to: number; readonly done: Promise<void> } | undefined;
  private stopped = false;
  /** Bumped when the owner cuts the file: a fill started before no longer counts. */
  private generation = 0;

  private constructor(
    private readonly handle: fsp.FileHandle,
    filledTo: number,
    private readonly chunkBytes: number,
    private readonly onError: (err: unknown) => void,
    private readonly room: ZeroRoom,
  ) {
    this.filledTo = filledTo;
  }

  /**
   * Fills `path` through a new handle, `chunkBytes` at a time. The first zeros are
   * written by the file's creator, with its header: `filledTo` says how far they go.
   */
  static async open(
    path: string,
    filledTo: number,
    chunkBytes: number,
    onError: (err: unknown) => void,
    room: ZeroRoom,
  ): Promise<ZeroFill> {
    return new ZeroFill(await fsp.open(path, "r+"), filledTo, chunkBytes, onError, room);
  }

  /** The owner's end moved to `end`: starts the next fill once less than a chunk is zeroed ahead. */
  advance(end: number): void {
    if (this.stopped || this.inFlight !== undefined) return;
    if (this.filledTo - end >= this.chunkBytes) return;
    const from = Math.max(this.filledTo, end);
    const to = from + this.chunkBytes;
    this.inFlight = { from, to, done: this.fill(from, to, this.generation) };
  }

  /** A promise to await before writing [from, to) (a fill is writing there); undefined: write now. */
  before(from: number, to: number): Promise<void> | undefined {
    const fill = this.inFlight;
    return fill !== undefined && from < fill.to && to > fill.from ? fill.done : undefined;
  }

  /** The owner cut the file at `end` (a refused write undone): nothing past it is zeroed now. */
  cutAt(end: number): void {
    this.generation += 1;
    this.filledTo = Math.min(this.filledTo, end);
  }

  /** Stops filling and closes the handle once no fill is in flight. */
  async close(): Promise<void> {
    this.stopped = true;
    await this.inFlight?.done;
    await this.handle.close();
  }

  private async fill(from: number, to: number, generation: number): Promise<void> {
    try {
      if (!(await this.room(to - from))) {
        this.stopped = true;
        return;
      }
      await writeZeros(this.handle, from, to - from);
      await this.handle.datasync();
      if (generation === this.generation) this.filledTo = Math.max(this.filledTo, to);
    } catch (err) {
      this.stopped = true;
      if (!isOutOfSpace(err)) this.onError(err);
    } finally {
      this.inFlight = undefined;
    }
  }
}

/**
 * Writes a new file's first zeros (before its first fsync). False when `room` refuses them
 * or the disk is full: the file then goes on without zeros ahead (what part of them was
 * written is harmless).
 */
export async function writeFirstZeros(
  handle: fsp.FileHandle,
  from: number,
  bytes: number,
  room: ZeroRoom,
): Promise<boolean> {
  if (!(await room(bytes))) return false;
  try {
    await writeZeros(handle, from, bytes);
    return true;
  } catch (err) {
    if (isOutOfSpace(err)) return false;
    throw err;
  }
}

/** One block of zeros, never written to: a fill writes it as many times as it needs. */
const ZERO_BLOCK = Buffer.alloc(64 * 1024);

/** Writes `bytes` zeros at `from` with one writev of the shared zero block (no large buffer). */
export async function writeZeros(handle: fsp.FileHandle, from: number, bytes: number): Promise<void> {
  const blocks: Buffer[] = [];
  for (let left = bytes; left > 0; left -= ZERO_BLOCK.length) {
    blocks.push(left >= ZERO_BLOCK.length ? ZERO_BLOCK : ZERO_BLOCK.subarray(0, left));
  }
  await writevFully(handle, blocks, from);
}

/** Where the bytes of `bytes` from `from` on end once an all-zero tail is left off. */
export function endBeforeZeroTail(bytes: Uint8Array, from: number): number {
  let end = bytes.length;
  while (end > from && bytes[end - 1] === 0) end -= 1;
  return end;
}
