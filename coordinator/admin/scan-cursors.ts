/**
 * Cursors a cluster scan merges: the metadata in key order, page by page, and one volume's
 * listing in the same (UTF-8 byte) order, batch by batch.
 */
import type { VolumeKeyInfo } from "../../common/volume-client.js";
import type { BlobMeta } from "../metadata-commands.js";
import type { ClusterAccess } from "./cluster-access.js";

/** Blobs in key order, fetched a page at a time (linearizable reads through ClusterAccess). */
export class MetadataCursor {
  private page: readonly BlobMeta[] = [];
  private at = 0;
  private finished = false;
  private lastKey: string | null = null;

  constructor(
    private readonly access: ClusterAccess,
    private readonly pageBlobs: number,
  ) {}

  async peek(): Promise<BlobMeta | undefined> {
    while (this.at >= this.page.length && !this.finished) {
      this.page = await this.access.listBlobs(this.lastKey, this.pageBlobs);
      this.at = 0;
      const last = this.page[this.page.length - 1];
      if (last === undefined || this.page.length < this.pageBlobs) this.finished = true;
      if (last !== undefined) this.lastKey = last.key;
    }
    return this.page[this.at];
  }

  /** The blob under `key` if it is next; null otherwise. */
  async takeIf(key: string): Promise<BlobMeta | null> {
    const next = await this.peek();
    if (next?.key !== key) return null;
    this.at += 1;
    return next;
  }
}

/**
 * One volume's ListKeys stream. A failing stream ends the cursor (the volume's remaining
 * entries are not seen) and calls `onFailure`, so the scan treats the volume as unreachable.
 */
export class EntryCursor {
  private batch: readonly VolumeKeyInfo[] = [];
  private at = 0;
  private finished = false;

  constructor(
    readonly volumeId: string,
    private readonly batches: AsyncGenerator<VolumeKeyInfo[]>,
    private readonly onFailure: (err: unknown) => void,
  ) {}

  async peek(): Promise<VolumeKeyInfo | undefined> {
    while (this.at >= this.batch.length && !this.finished) {
      try {
        const next = await this.batches.next();
        if (next.done === true) this.finished = true;
        else [this.batch, this.at] = [next.value, 0];
      } catch (err) {
        this.finished = true;
        [this.batch, this.at] = [[], 0];
        this.onFailure(err);
      }
    }
    return this.batch[this.at];
  }

  /** Every entry of `key` that is next (a committed value and prepared records). */
  async takeAll(key: string): Promise<VolumeKeyInfo[]> {
    const taken: VolumeKeyInfo[] = [];
    for (let next = await this.peek(); next?.key === key; next = await this.peek()) {
      taken.push(next);
      this.at += 1;
    }
    return taken;
  }

  async close(): Promise<void> {
    await this.batches.return(undefined).catch(() => undefined);
  }
}
