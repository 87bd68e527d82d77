/**
 * A seeded pseudo-random generator (mulberry32): the same seed gives the same schedule and
 * the same client choices, so a failing run is replayed from its seed.
 */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("pick from an empty list");
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** A new generator whose sequence depends on this one's seed and `stream` only. */
  fork(stream: number): Rng {
    return new Rng((this.int(0, 0xffffffff) ^ Math.imul(stream + 1, 0x9e3779b1)) >>> 0);
  }
}

/** The seed of this run: NEMESIS_SEED when set (a replay), else a fresh random one. */
export function seedFromEnv(): number {
  const raw = process.env["NEMESIS_SEED"];
  if (raw !== undefined && raw.trim() !== "") {
    const seed = Number(raw);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new Error(`NEMESIS_SEED must be an integer in [0, 2^32), got "${raw}"`);
    }
    return seed;
  }
  return Math.floor(Math.random() * 0xffffffff);
}
