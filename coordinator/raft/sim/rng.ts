/**
 * The simulator's only source of randomness: a small seeded generator (sfc32, seeded by
 * splitmix32), so a seed replays the same trace on every machine. `fork(label)` derives an
 * independent stream, so adding draws in one area (say the network) does not shift the
 * draws of another (say the workload) and old seeds keep meaning the same schedule.
 */
export interface Rng {
  /** A uniform 32-bit unsigned integer. */
  u32(): number;
  /** A uniform float in [0, 1). */
  float(): number;
  /** A uniform integer in [low, high] (both inclusive). */
  int(low: number, high: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** A uniform element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
  /** A new array with the items in a uniform random order. */
  shuffled<T>(items: readonly T[]): T[];
  /** An independent generator derived from this one's seed and a label. */
  fork(label: string): Rng;
}

function splitmix32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

function hashLabel(label: string): number {
  // FNV-1a: stable across runs and platforms.
  let hash = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    hash = Math.imul(hash ^ label.charCodeAt(i), 0x01000193) >>> 0;
  }
  return hash;
}

/** Creates a generator from a non-negative integer seed (only its low 32 bits are used). */
export function createRng(seed: number): Rng {
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`seed must be a non-negative integer: ${seed}`);
  const baseSeed = seed >>> 0;
  const init = splitmix32(baseSeed);
  let a = init();
  let b = init();
  let c = init();
  let d = init();
  const u32 = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) u32();
  const rng: Rng = {
    u32,
    float: () => u32() / 0x1_0000_0000,
    int: (low, high) => {
      if (high < low) throw new Error(`empty range [${low}, ${high}]`);
      return low + Math.floor((u32() / 0x1_0000_0000) * (high - low + 1));
    },
    chance: (p) => p > 0 && u32() / 0x1_0000_0000 < p,
    pick: (items) => {
      if (items.length === 0) throw new Error("pick from an empty array");
      return items[Math.floor((u32() / 0x1_0000_0000) * items.length)] as (typeof items)[number];
    },
    shuffled: (items) => {
      const copy = items.slice();
      for (let i = copy.length - 1; i > 0; i--) {
        const j = Math.floor((u32() / 0x1_0000_0000) * (i + 1));
        const tmp = copy[i] as (typeof copy)[number];
        copy[i] = copy[j] as (typeof copy)[number];
        copy[j] = tmp;
      }
      return copy;
    },
    fork: (label) => createRng((splitmix32(baseSeed ^ hashLabel(label))() ^ hashLabel(label)) >>> 0),
  };
  return rng;
}
