/**
 * A seeded pseudo-random source (a function returning floats in [0, 1)), for jitter and
 * simulations that must replay identically from a seed.
 */
export type Random = () => number;

/**
 * Makes a seeded random source (SplitMix32): the same seed gives the same sequence in every
 * process.
 *
 * @param seed - any integer (taken modulo 2^32)
 * @returns a function returning floats in [0, 1)
 * @example
 * ```ts
 * const rand = createRandom(42);
 * const jitter = 100 * rand();
 * ```
 */
export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    z = (z ^ (z >>> 16)) >>> 0;
    return z / 4294967296;
  };
}
