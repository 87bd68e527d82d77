import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { engineLimits } from "./engine-limits.js";
import { SEGMENT_FILE_HEADER_BYTES, SegmentFile } from "./segment-file.js";
import { seededBytes, seededRandom } from "./store-test-support.js";

// Shared small writes and reads (concurrent prepares' records and head read-backs): the
// batching must be invisible — every region lands exactly where it was reserved, and every
// read returns exactly the bytes of its own region.

let root: string | undefined;
afterEach(async () => {
  if (root !== undefined) await rm(root, { recursive: true, force: true });
  root = undefined;
});

async function newSegment(): Promise<{ segment: SegmentFile; path: string }> {
  root = await mkdtemp(join(tmpdir(), "minikv-segment-"));
  const path = join(root, "seg-000000000001.dat");
  return { segment: await SegmentFile.create(path, 1, () => undefined), path };
}

describe("segment file shared writes and reads", () => {
  it.each([1, 2, 3])(
    "concurrent regions, adjacent or not, land and read back exactly (seed=%i)",
    async (seed) => {
      const { segment, path } = await newSegment();
      const random = seededRandom(seed);
      const regions: { offset: number; bytes: Buffer }[] = [];
      for (let i = 0; i < 200; i++) {
        const bytes = seededBytes(seed * 1000 + i, 1 + random(9000));
        if (random(4) === 0) segment.reserve(1 + random(20_000)); // a gap nobody writes
        regions.push({ offset: segment.reserve(bytes.length), bytes });
      }
      // Issued in a shuffled order, all at once: the batches see neighbours out of order.
      const order = regions.map((_, i) => i).sort(() => random(3) - 1);
      await Promise.all(order.map((i) => segment.writeShared(regions[i]!.bytes, regions[i]!.offset)));
      const file = await readFile(path);
      for (const { offset, bytes } of regions) {
        expect(file.subarray(offset, offset + bytes.length).equals(bytes)).toBe(true);
      }
      const reads = await Promise.all(
        order.map((i) => segment.readShared(regions[i]!.offset, regions[i]!.bytes.length)),
      );
      order.forEach((i, n) => expect(reads[n]?.equals(regions[i]!.bytes), `region ${i}`).toBe(true));
      await segment.retire();
    },
  );

  it("a read past the end of the file comes back short, as read() does", async () => {
    const { segment } = await newSegment();
    const bytes = seededBytes(7, 1000);
    const offset = segment.reserve(bytes.length);
    await segment.writeShared(bytes, offset);
    const [near, past] = await Promise.all([
      segment.readShared(offset + 900, 512),
      segment.readShared(offset + 5000, 512),
    ]);
    expect(near?.equals(bytes.subarray(900))).toBe(true);
    expect(past?.length).toBe(0);
    expect(offset).toBe(SEGMENT_FILE_HEADER_BYTES);
    await segment.retire();
  });

  it("read() gives the same bytes below and above the blocking-read size, and short at the end", async () => {
    const { segment, path } = await newSegment();
    const bytes = seededBytes(11, 3 * engineLimits.syncReadBytesMax);
    const offset = segment.reserve(bytes.length);
    await segment.write(bytes, offset);
    const file = await readFile(path);
    const sizes = [1, 4096, engineLimits.syncReadBytesMax, engineLimits.syncReadBytesMax + 1, bytes.length];
    for (const length of sizes) {
      const read = await segment.read(offset, length);
      expect(read.equals(file.subarray(offset, offset + length)), `length ${length}`).toBe(true);
    }
    for (const length of [512, engineLimits.syncReadBytesMax + 1]) {
      const tail = await segment.read(file.length - 100, length);
      expect(tail.equals(file.subarray(file.length - 100)), `tail of ${length}`).toBe(true);
    }
    await segment.retire();
    await expect(segment.read(offset, 4096)).rejects.toThrow();
  });
});
