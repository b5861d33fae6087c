// Statistics for paired benchmark rounds: a bootstrap confidence interval of
// the median of per-round differences, and a budget verdict that says
// UNRESOLVED when the interval straddles the budget rather than reading a
// median that noise could have put on either side.

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** mulberry32: a small seeded generator, so the same rounds always give the same interval. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface MedianCi {
  median: number;
  /** Lower and upper bounds of the percentile bootstrap interval. */
  low: number;
  high: number;
  level: number;
  n: number;
  resamples: number;
}

/**
 * Percentile bootstrap of the median: `resamples` resamples of `xs` with
 * replacement, the median of each, and the central `level` of those medians.
 */
export function bootstrapMedianCi(xs: readonly number[], level = 0.95, resamples = 10_000, seed = 1): MedianCi {
  if (xs.length === 0) throw new RangeError('no samples');
  const random = seeded(seed);
  const medians = new Float64Array(resamples);
  const sample = new Array<number>(xs.length);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < xs.length; i++) sample[i] = xs[Math.floor(random() * xs.length)]!;
    medians[r] = median(sample);
  }
  medians.sort();
  const tail = (1 - level) / 2;
  const at = (q: number) => medians[Math.min(resamples - 1, Math.max(0, Math.floor(q * resamples)))]!;
  return { median: median(xs), low: at(tail), high: at(1 - tail), level, n: xs.length, resamples };
}

export type Verdict = 'PASS' | 'FAIL' | 'UNRESOLVED';

/** PASS when the whole interval is within the budget (≤), FAIL when all of it is over, UNRESOLVED otherwise. */
export function budgetVerdict(ci: Pick<MedianCi, 'low' | 'high'>, budget: number): Verdict {
  if (ci.high <= budget) return 'PASS';
  if (ci.low > budget) return 'FAIL';
  return 'UNRESOLVED';
}
