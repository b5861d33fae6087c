// One time base for every thread of the simulator: milliseconds since the
// Unix epoch with sub-millisecond resolution. performance.now() alone is
// relative to each thread's own start, so timestamps taken in a worker and in
// the main thread (a REST send and a receipt) could not be subtracted.
import { performance } from 'node:perf_hooks';

const origin = performance.timeOrigin;

/** Epoch milliseconds, fractional, monotonic within a thread. */
export function now(): number {
  return origin + performance.now();
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
