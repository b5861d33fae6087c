// The scheduler's run queue: kept between drains (not rebuilt), so these check
// that order, re-queueing and the compaction after a yielded drain hold.
import { describe, expect, it } from 'vitest';
import { type Runnable, Scheduler } from '../../actors/scheduler.js';

/** A runnable with `messages` to handle, `perSlice` at most per turn. */
function runnable(name: number, messages: number, log: number[]): Runnable & { left: number } {
  return {
    left: messages,
    runSlice(max: number): number {
      const n = Math.min(max, this.left, 1);
      this.left -= n;
      log.push(name);
      return n;
    },
    get ready() {
      return this.left > 0;
    },
  };
}

const idle = (s: Scheduler) =>
  new Promise<void>((resolve) => {
    const poll = () => (s.pending === 0 ? resolve() : setImmediate(poll));
    setImmediate(poll);
  });

describe('Scheduler', () => {
  it('runs queued actors round robin, again and again across drains, with nothing left pending', async () => {
    const s = new Scheduler();
    const log: number[] = [];
    s.enqueue(runnable(1, 2, log));
    s.enqueue(runnable(2, 1, log));
    s.enqueue(runnable(3, 2, log));
    await idle(s);
    expect(log).toEqual([1, 2, 3, 1, 3]);
    // A second drain reuses the queue from its start.
    log.length = 0;
    s.enqueue(runnable(4, 1, log));
    s.enqueue(runnable(5, 2, log));
    await idle(s);
    expect(log).toEqual([4, 5, 5]);
    expect(s.pending).toBe(0);
  });

  it('keeps order when a drain yields with thousands still queued (the queue is compacted)', async () => {
    // sliceMs 0: every drain yields at its first clock check, so the queue is left part-taken many times.
    const s = new Scheduler({ sliceMs: 0 });
    const log: number[] = [];
    const n = 3_000;
    for (let i = 0; i < n; i++) s.enqueue(runnable(i, i % 3 === 0 ? 2 : 1, log));
    await idle(s);
    const again = Array.from({ length: n }, (_, i) => i).filter((i) => i % 3 === 0);
    expect(log).toEqual([...Array.from({ length: n }, (_, i) => i), ...again]);
    expect(s.pending).toBe(0);
  });
});
