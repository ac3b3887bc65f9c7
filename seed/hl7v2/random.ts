/**
 * A tiny seeded pseudo-random number generator (mulberry32) with the helpers the seed needs.
 * Same seed, same sequence, on every platform: the seed output is byte-identical run to run.
 * See: https://gist.github.com/tommyettinger/46a874533244883189143505d203312c (mulberry32)
 */
export interface Rng {
  /** A float in [0, 1). */
  next: () => number;
  /** An integer in [min, max], both inclusive. */
  int: (min: number, max: number) => number;
  /** A float in [min, max). */
  float: (min: number, max: number) => number;
  /** A normally distributed float (Box-Muller) with the given mean and standard deviation. */
  normal: (mean: number, sd: number) => number;
  /** True with probability p. */
  chance: (p: number) => boolean;
  /** One element of a non-empty array. */
  pick: <T>(items: readonly T[]) => T;
}

/** Creates a mulberry32 generator from a 32-bit seed. */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  const pick = <T>(items: readonly T[]): T => {
    if (items.length === 0) throw new Error('pick() needs a non-empty array');
    return items[int(0, items.length - 1)] as T;
  };
  return {
    next,
    int,
    float: (min, max) => min + next() * (max - min),
    normal: (mean, sd) => {
      const u = 1 - next(); // (0, 1]: log(0) is not allowed
      const v = next();
      return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
    chance: (p) => next() < p,
    pick,
  };
}

/**
 * Derives an independent stream from a base seed and labels (FNV-1a over the labels), so each
 * patient and each generator has its own sequence and call order never changes the output.
 */
export function deriveRng(seed: number, ...labels: (string | number)[]): Rng {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (const ch of labels.join('/')) {
    h ^= ch.codePointAt(0) ?? 0;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return mulberry32(h);
}
