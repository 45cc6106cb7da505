// A small seeded pseudo-random source for deciders that draw at random (load balancing, retry
// back-off, fault injection) so that tests can check distributions reproducibly, not by luck.
// The generator is a 32-bit "add a constant, then mix" counter (mulberry32 family): fast, full
// period 2^32, good enough for load balancing and statistics, not for anything secret.

/** A source of uniform numbers in [0, 1), the shape of Math.random. */
export type Random = () => number;

/** A deterministic Random: the same seed always gives the same sequence. */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A whole number in [0, n) drawn from `random`; 0 when n < 1. */
export function randomIndex(random: Random, n: number): number {
  if (!(n >= 1)) return 0;
  // Guard against a Random that returns exactly 1 (Math.random never does; a stub might).
  return Math.min(n - 1, Math.floor(random() * n));
}
