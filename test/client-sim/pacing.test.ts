import { describe, expect, it } from 'vitest';
import { pacedUntil } from '../../client-sim/pacing.js';

describe('pacedUntil', () => {
  it('never has more than maxInFlight sends running, starts every one in order and waits for all of them', async () => {
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const finished: number[] = [];
    const n = await pacedUntil(
      60,
      100_000,
      Date.now() + 10_000,
      async (i) => {
        started.push(i);
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 1 + (i % 3)));
        running--;
        finished.push(i);
        if (i % 7 === 0) throw new Error('a failed send still frees its place');
      },
      4,
    );
    expect(n).toBe(60);
    expect(started).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(finished).toHaveLength(60);
    expect(most).toBe(4);
  });

  it('at the cap, a send costs no reaction on the others in flight', async () => {
    // Promise.race over the sends in flight attached a reaction to each of them at every send made at
    // the cap; the count of then-calls on the sends' promises shows it.
    let thens = 0;
    class Counted<T> extends Promise<T> {
      override then<A = T, B = never>(a?: ((v: T) => A | PromiseLike<A>) | null, b?: ((e: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
        thens++;
        return super.then(a, b);
      }
    }
    const sends = 200;
    await pacedUntil(sends, 1_000_000, Date.now() + 10_000, () => new Counted<void>((r) => setTimeout(r, 1)), 50);
    // One reaction per send (its settling), whatever the cap; a race would add about 50 per send at the cap.
    expect(thens).toBeLessThan(sends * 3);
  });
});
