// Which counted sections measure the steady code, and the interval of a
// case's median over several processes' steady sections.
//
// A section that held a compile (a tier-up, or a deopt and its
// re-optimisation) counts the compiler, not the code: a one-off cost that a
// long-running server spreads over millions of messages. Tiers count calls,
// not units, and what runs once per batch or per async resource (async_hooks'
// init, the promise hooks, the drain's immediate) was seen tiering up
// (`--trace-opt`) as late as the 28th section after thousands of warm-up
// batches, so no fixed warm-up ends every compile. Sections whose own dump
// shows compiler work are therefore left out of the median, and reported
// with that work, not hidden; a process with too few left is not a result.
import { median, seeded } from './paired-stats.js';

export interface Section {
  /** Instructions per unit, all of the section. */
  perUnit: number;
  /** Of those, in V8's compilers and deoptimiser (see callgrind-dump.ts). */
  compilePerUnit: number;
}

export interface SteadyRun {
  /** Indexes of the sections left out because they compiled. */
  compiling: number[];
  steady: number[];
  /** Enough steady sections to read a median from. */
  ok: boolean;
}

/** Compile work above this many instructions per unit makes a section a compiling one. */
export const COMPILE_TOLERANCE_PER_UNIT = 1;

/** The sections without compile work; `ok` when at least `minSteady` of them. */
export function steadySections(sections: readonly Section[], minSteady: number, tolerance = COMPILE_TOLERANCE_PER_UNIT): SteadyRun {
  const compiling = sections.flatMap((s, i) => (s.compilePerUnit > tolerance ? [i] : []));
  const steady = sections.filter((s) => s.compilePerUnit <= tolerance).map((s) => s.perUnit);
  return { compiling, steady, ok: steady.length >= minSteady };
}

/**
 * Median of all groups' values pooled, with a two-stage (cluster) percentile
 * bootstrap interval: resample the groups (processes), then the values
 * (sections) within each. Processes of the same code can differ by more than
 * their sections do (V8's inlining follows each one's feedback), which an
 * interval over one process's sections would not show.
 */
export function clusteredMedianCi(groups: readonly (readonly number[])[], level = 0.95, resamples = 10_000, seed = 1): { median: number; low: number; high: number } {
  const nonEmpty = groups.filter((g) => g.length > 0);
  if (nonEmpty.length === 0) throw new RangeError('no samples');
  const random = seeded(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
  const medians = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    const sample: number[] = [];
    for (let g = 0; g < nonEmpty.length; g++) {
      const group = pick(nonEmpty);
      for (let i = 0; i < group.length; i++) sample.push(pick(group));
    }
    medians[r] = median(sample);
  }
  medians.sort();
  const tail = (1 - level) / 2;
  const at = (q: number) => medians[Math.min(resamples - 1, Math.max(0, Math.floor(q * resamples)))]!;
  return { median: median(nonEmpty.flat()), low: at(tail), high: at(1 - tail) };
}
