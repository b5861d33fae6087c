// Which counted sections measure the steady code, and the interval of a
// case's median over several processes' steady sections.
//
// A section that held a compile (a tier-up or a deopt and its re-optimisation)
// counts the compiler, not the code. Tiers count calls, not units: a function
// called once per batch tiers up hundreds of batches after the loop that calls
// it per message, so a fixed warm-up can end before the last compile. The
// sections kept are those after the last one that compiled; the ones before
// are warm-up that lasted longer than planned, and are reported, not hidden.

export interface Section {
  /** Instructions per unit, all of the section. */
  perUnit: number;
  /** Of those, in V8's compilers and deoptimiser (see callgrind-dump.ts). */
  compilePerUnit: number;
}

export interface SteadyRun {
  /** Index of the first kept section (every one from it on is steady). */
  from: number;
  steady: number[];
  /** Enough sections left after the last compile to read a median from. */
  ok: boolean;
}

/** Compile work above this many instructions per unit makes a section a compiling one. */
export const COMPILE_TOLERANCE_PER_UNIT = 1;

/** The sections after the last compiling one; `ok` when at least `minSteady` are left. */
export function steadySuffix(sections: readonly Section[], minSteady: number, tolerance = COMPILE_TOLERANCE_PER_UNIT): SteadyRun {
  let from = 0;
  sections.forEach((s, i) => {
    if (s.compilePerUnit > tolerance) from = i + 1;
  });
  const steady = sections.slice(from).map((s) => s.perUnit);
  return { from, steady, ok: steady.length >= minSteady };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** mulberry32, seeded: the same sections always give the same interval. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
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
