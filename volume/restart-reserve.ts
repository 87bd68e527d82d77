import { promises as fsp } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { isOutOfSpace } from "../common/errors.js";
import { fsyncDirectory, isNodeError, removeIfExists } from "./durable-fs.js";
import type { DiskSpace } from "./durable-fs.js";
import { engineLimits } from "./engine-limits.js";
import { writeZeros } from "./zero-fill.js";

/** The reserve's file name, in the data directory (and the WAL's, on another file system). */
export const RESTART_RESERVE_FILE = "restart-reserve";
const BEING_MADE_SUFFIX = ".new";

interface Site {
  readonly dir: string;
  readonly bytes: number;
  present: boolean;
}

/**
 * The restart reserve (docs/volume-format.md, "Restart reserve"): a file of zeros the
 * volume keeps on each file system it writes, so that opening never finds the disk full.
 * Opening writes before it can serve anything: a new active segment, a new WAL file, and
 * copies of the decisions the WAL replays. A volume that filled its disk and was then killed
 * could not start again; now open deletes the reserve first whenever its file system has
 * less room than the reserve, and recovery writes into that room.
 *
 * While a reserve is missing its size counts as used (`owedBytes`): the volume takes no
 * write that would eat into it and reports itself full. It is made again, by the periodic
 * disk-space check, once its file system has room for it twice over.
 */
export class RestartReserve {
  private making: Promise<void> | undefined;

  private constructor(
    private readonly sites: readonly Site[],
    private readonly diskSpace: (dir: string) => Promise<DiskSpace>,
    private readonly logger: Logger,
  ) {}

  /**
   * Finds the reserve of each file system among `dirs` (the first directory on a device
   * holds it) and deletes every one whose file system has less free space than its size.
   * Runs before recovery; makes nothing (see `replenish`).
   */
  static async open(
    dirs: readonly string[],
    diskSpace: (dir: string) => Promise<DiskSpace>,
    logger: Logger,
  ): Promise<RestartReserve> {
    const sites: Site[] = [];
    const devices = new Set<number>();
    for (const dir of dirs) {
      await fsp.mkdir(dir, { recursive: true });
      const { dev } = await fsp.stat(dir);
      if (devices.has(dev)) continue;
      devices.add(dev);
      const path = join(dir, RESTART_RESERVE_FILE);
      // A reserve being made when the process died counts for nothing.
      if (await removeIfExists(path + BEING_MADE_SUFFIX)) await fsyncDirectory(dir);
      const space = await diskSpace(dir);
      const site = { dir, bytes: restartReserveBytesFor(space.totalBytes), present: await exists(path) };
      if (site.present && space.freeBytes < site.bytes && (await removeIfExists(path))) {
        await fsyncDirectory(dir);
        site.present = false;
        logger.warn(
          { dir, freeBytes: space.freeBytes, reserveBytes: site.bytes },
          "disk nearly full: restart reserve released for recovery; writes are refused until it is made again",
        );
      }
      sites.push(site);
    }
    return new RestartReserve(sites, diskSpace, logger);
  }

  /** Bytes of the reserves not on disk: free space the volume must not use. */
  get owedBytes(): number {
    let owed = 0;
    for (const site of this.sites) if (!site.present) owed += site.bytes;
    return owed;
  }

  /**
   * Makes every missing reserve whose file system has room for it twice over. A reserve the
   * disk refuses is removed again and retried on the next call; one call runs at a time.
   */
  replenish(): Promise<void> {
    if (this.owedBytes === 0) return Promise.resolve();
    this.making ??= this.makeMissing().finally(() => (this.making = undefined));
    return this.making;
  }

  /**
   * Gives up the reserve on `dir`'s file system, if it is there: for compaction that finds a
   * disk with no room left, as open does for recovery (compaction is how a full volume gets
   * room back). The volume then refuses writes until `replenish` makes it again. True when
   * a reserve was removed.
   */
  async release(dir: string): Promise<boolean> {
    await this.making;
    const { dev } = await fsp.stat(dir);
    for (const site of this.sites) {
      if (!site.present || (await fsp.stat(site.dir)).dev !== dev) continue;
      if (!(await removeIfExists(join(site.dir, RESTART_RESERVE_FILE)))) continue;
      await fsyncDirectory(site.dir);
      site.present = false;
      this.logger.warn(
        { dir: site.dir, reserveBytes: site.bytes },
        "disk full: restart reserve released for compaction; writes are refused until it is made again",
      );
      return true;
    }
    return false;
  }

  /** Resolves once no reserve is being made (close waits for it). */
  async settled(): Promise<void> {
    await this.making;
  }

  private async makeMissing(): Promise<void> {
    for (const site of this.sites) {
      if (site.present) continue;
      try {
        const { freeBytes } = await this.diskSpace(site.dir);
        if (freeBytes < 2 * site.bytes) continue;
        await makeReserve(site.dir, site.bytes);
        site.present = true;
        this.logger.info(
          { dir: site.dir, reserveBytes: site.bytes },
          "restart reserve made; writes are taken again",
        );
      } catch (err) {
        if (!isOutOfSpace(err)) this.logger.warn({ err, dir: site.dir }, "cannot make the restart reserve");
      }
    }
  }
}

/** The reserve's size: engineLimits.restartReserveBytes, at most 1/16 of a small disk. */
export function restartReserveBytesFor(totalBytes: number): number {
  const bytes = engineLimits.restartReserveBytes;
  return totalBytes > 0 ? Math.min(bytes, Math.floor(totalBytes / 16)) : bytes;
}

/** Writes the zeros under a temporary name, fsyncs, then renames: a reserve is whole or absent. */
async function makeReserve(dir: string, bytes: number): Promise<void> {
  const path = join(dir, RESTART_RESERVE_FILE);
  const temporary = path + BEING_MADE_SUFFIX;
  const handle = await fsp.open(temporary, "w");
  try {
    await writeZeros(handle, 0, bytes);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await fsp.rm(temporary, { force: true });
    throw err;
  }
  await handle.close();
  await fsp.rename(temporary, path);
  await fsyncDirectory(dir);
}

async function exists(path: string): Promise<boolean> {
  try {
    await fsp.stat(path);
    return true;
  } catch (err) {
    if (isNodeError(err, "ENOENT")) return false;
    throw err;
  }
}
