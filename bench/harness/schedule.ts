// In which order the paths run: each round measures one metric on every path back to back, and
// the order changes from block to block so that position effects (first after a bulk transfer,
// right after the other pair's burst) fall on every path alike.

/**
 * The order of the paths for one metric of one round: a rotation that moves on with every metric
 * and round, reversed every other cycle, so over 2 x (number of paths) blocks each path takes
 * each position and Ambit runs before nginx as often as after.
 */
export function pathOrder<T>(paths: readonly T[], round: number, metricIndex: number): T[] {
  const n = paths.length;
  const k = round + metricIndex;
  const rotated = paths.map((_, i) => paths[(i + k) % n]!);
  return Math.floor(k / n) % 2 === 1 ? rotated.reverse() : rotated;
}

