import { promises as fsp } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { BloomFilter, bloomFileName, hashKey, readBloomFile, writeBloomFile } from "./bloom-filter.js";
import type { KeyHashList } from "./bloom-filter.js";
import { removeIfExists } from "./durable-fs.js";
import { scanSegment } from "./segment-scan.js";
import type { SegmentFile } from "./segment-file.js";
import type { SegmentSet } from "./segment-set.js";

/**
 * The bloom filters of a volume's sealed segments: loaded at open, the active segment's own
 * filter adopted when it is sealed and then replaced by a compact one built from its key
 * hashes, rebuilt by scanning record heads when a file is
 * missing or corrupt. A segment without a filter (yet) answers "may contain" for every key:
 * the filters only ever make compaction drop more, never wrongly.
 */
export class BloomRegistry {
  private readonly filters = new Map<number, BloomFilter>();

  constructor(
    private readonly dataDir: string,
    private readonly segments: SegmentSet,
    private readonly fpRate: number,
    private readonly logger: Logger,
  ) {}

  /** Loads every sealed segment's filter; returns the segments whose filter must be rebuilt. */
  async loadAll(): Promise<SegmentFile[]> {
    await this.removeOrphans();
    const missing: SegmentFile[] = [];
    for (const segment of this.segments.all) {
      if (segment === this.segments.active) continue;
      const filter = await readBloomFile(this.dataDir, segment.number);
      if (filter instanceof BloomFilter) {
        this.filters.set(segment.number, filter);
        continue;
      }
      if (typeof filter === "string") {
        this.logger.warn(
          { segment: segment.number, problem: filter },
          "corrupt bloom filter will be rebuilt",
        );
      }
      missing.push(segment);
    }
    return missing;
  }

  /** Filters of segments that are gone (a compaction rolled back or finished at boot). */
  private async removeOrphans(): Promise<void> {
    for (const name of await fsp.readdir(this.dataDir)) {
      const number = /^seg-(\d{12})\.bloom$/.exec(name)?.[1];
      if (number !== undefined && this.segments.get(Number(number)) === undefined) {
        await removeIfExists(join(this.dataDir, name));
      }
    }
  }

  get(segment: number): BloomFilter | undefined {
    return this.filters.get(segment);
  }

  get count(): number {
    return this.filters.size;
  }

  /** Builds and persists the filter of a segment that was just sealed. */
  async buildFromHashes(segment: SegmentFile, keys: KeyHashList): Promise<void> {
    if (segment.isRetired) return;
    const filter = BloomFilter.fromHashes(keys.hashes(), keys.length, this.fpRate);
    await writeBloomFile(this.dataDir, segment.number, filter);
    if (segment.isRetired) await this.remove(segment.number);
    else this.filters.set(segment.number, filter);
  }

  /** Rebuilds a segment's filter from the keys of its records (heads only). */
  async rebuildByScan(segment: SegmentFile): Promise<void> {
    if (!segment.acquire()) return;
    const keys: string[] = [];
    try {
      for await (const { head } of scanSegment(segment, { verify: false })) keys.push(head.key);
    } finally {
      await segment.release();
    }
    const filter = BloomFilter.create(keys.length, this.fpRate);
    for (const key of keys) filter.add(key);
    await writeBloomFile(this.dataDir, segment.number, filter);
    if (!segment.isRetired) this.filters.set(segment.number, filter);
    this.logger.info({ segment: segment.number, keys: keys.length }, "bloom filter rebuilt");
  }

  adopt(segment: number, filter: BloomFilter): void {
    this.filters.set(segment, filter);
  }

  forget(segment: number): void {
    this.filters.delete(segment);
  }

  async remove(segment: number): Promise<void> {
    this.filters.delete(segment);
    await removeIfExists(join(this.dataDir, bloomFileName(segment)));
  }

  /** May a segment outside `exclude` hold a record of `key`? Never a false "no". */
  mayExistElsewhere(key: string, exclude: ReadonlySet<number>): boolean {
    const hash = hashKey(key);
    for (const segment of this.segments.all) {
      if (exclude.has(segment.number)) continue;
      if (segment === this.segments.active) {
        if (this.segments.activeMayContain(key)) return true;
        continue;
      }
      const filter = this.filters.get(segment.number);
      if (filter === undefined || filter.mayContainHash(hash)) return true;
    }
    return false;
  }
}
