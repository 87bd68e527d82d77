/**
 * A small seeded generator (mulberry32). The core draws its randomized election timeouts
 * from it so that a simulation replays exactly from its seed.
 */
export interface Rng {
  /** A uniform integer in [0, bound). */
  nextInt(bound: number): number;
}

export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  const next32 = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  return {
    nextInt(bound: number): number {
      if (!Number.isInteger(bound) || bound <= 0) throw new RangeError(`bad bound ${bound}`);
      return Math.floor((next32() / 0x1_0000_0000) * bound);
    },
  };
}
