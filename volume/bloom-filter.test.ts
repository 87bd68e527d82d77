import { mkdtemp, rm, writeFile, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BloomFilter, bloomFileName, readBloomFile, writeBloomFile } from "./bloom-filter.js";

// Issue 2 §3: "Bloom filter never gives a false negative and stays within its false-positive target."

const HEAVY = process.env["HEAVY"] === "1";

describe("BloomFilter", () => {
  it.each([0.01, 0.001, 0.05])("has no false negatives and a measured FP rate within target %f", (target) => {
    const keys = HEAVY ? 1_000_000 : 50_000;
    const probes = HEAVY ? 1_000_000 : 100_000;
    const filter = BloomFilter.create(keys, target);
    for (let i = 0; i < keys; i++) filter.add(`present/${i}`);
    let falseNegatives = 0;
    for (let i = 0; i < keys; i++) if (!filter.mayContain(`present/${i}`)) falseNegatives += 1;
    expect(falseNegatives).toBe(0);
    let falsePositives = 0;
    for (let i = 0; i < probes; i++) if (filter.mayContain(`absent/${i}`)) falsePositives += 1;
    const measured = falsePositives / probes;
    // Binomial standard deviation: a correct filter stays under target + 4σ essentially always.
    const margin = 4 * Math.sqrt((target * (1 - target)) / probes);
    expect(measured).toBeLessThanOrEqual(target + margin);
  });

  it("round-trips through its file, and a corrupt file is refused", async () => {
    const dir = await mkdtemp(join(tmpdir(), "minikv-bloom-"));
    try {
      const filter = BloomFilter.create(1000, 0.01);
      for (let i = 0; i < 1000; i++) filter.add(`k${i}`);
      await writeBloomFile(dir, 7, filter);
      const back = await readBloomFile(dir, 7);
      expect(back).toBeInstanceOf(BloomFilter);
      if (!(back instanceof BloomFilter)) return;
      expect(back.keyCount).toBe(1000);
      expect(Array.from({ length: 1000 }, (_, i) => back.mayContain(`k${i}`)).every(Boolean)).toBe(true);
      expect(await readBloomFile(dir, 8)).toBeUndefined();
      const path = join(dir, bloomFileName(7));
      const bytes = await readFile(path);
      bytes[100] = (bytes[100] ?? 0) ^ 1;
      await writeFile(path, bytes);
      expect(typeof (await readBloomFile(dir, 7))).toBe("string");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("hashKey", () => {
  it("is MurmurHash3 x86_32 of the UTF-8 bytes (reference vectors)", async () => {
    const { hashKey } = await import("./bloom-filter.js");
    // murmur3_32("hello", 0) = 0x248bfa47; h2 is the seed-0x9747b28c hash with its low bit set.
    expect(hashKey("hello").h1).toBe(0x248bfa47);
    expect(hashKey("").h1).toBe(0);
    expect(hashKey("The quick brown fox jumps over the lazy dog").h1).toBe(0x2e4ff723);
    expect(hashKey("ü").h1).toBe(hashKey("\u00fc").h1);
    expect(hashKey("x".repeat(5000)).h2 % 2).toBe(1);
  });
});
