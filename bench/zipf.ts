// A Zipf-distributed choice among n ranks for the cache benchmarks: rank k (0-based) comes up
// with probability ∝ 1/(k+1)^s, as key popularity does in real caches (s ≈ 0.99 in the YCSB
// and Memcached studies). The CDF is computed once and shared; a draw is one binary search,
// and the randomness comes from the caller (a seeded source), so a run replays.

/** Ranks of one distribution; the CDF costs 8 bytes a rank. */
export const ZIPF_RANKS_MAX = 10_000_000;

export class ZipfSampler {
  /** cdf[k]: the probability of a rank ≤ k; the last entry is exactly 1. */
  private readonly cdf: Float64Array;

  constructor(
    readonly ranks: number,
    readonly exponent: number,
  ) {
    if (!Number.isSafeInteger(ranks) || ranks < 1 || ranks > ZIPF_RANKS_MAX) throw new RangeError(`ranks must be 1..${ZIPF_RANKS_MAX}, got ${ranks}`);
    if (!(exponent >= 0 && Number.isFinite(exponent))) throw new RangeError(`exponent must be a finite number ≥ 0, got ${exponent}`);
    this.cdf = new Float64Array(ranks);
    let sum = 0;
    for (let k = 0; k < ranks; k++) this.cdf[k] = sum += 1 / Math.pow(k + 1, exponent);
    for (let k = 0; k < ranks; k++) this.cdf[k]! /= sum;
    // Rounding may leave the last entry a hair below 1; a draw of 0.9999999… must still land.
    this.cdf[ranks - 1] = 1;
  }

  /** The rank for a uniform `u` in [0, 1): the first k with cdf[k] > u. */
  rank(u: number): number {
    const cdf = this.cdf;
    let low = 0;
    let high = cdf.length - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (cdf[middle]! > u) high = middle;
      else low = middle + 1;
    }
    return low;
  }

  /** The probability of `rank`, for tests and reports. */
  probability(rank: number): number {
    return rank === 0 ? this.cdf[0]! : this.cdf[rank]! - this.cdf[rank - 1]!;
  }
}
