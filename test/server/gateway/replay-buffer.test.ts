import { describe, expect, it } from 'vitest';
import { EncodedDispatch } from '../../../server/gateway/dispatch.js';
import { ReplayBuffer } from '../../../server/gateway/replay-buffer.js';

const d = (n: number) => new EncodedDispatch('X', { n });

describe('ReplayBuffer', () => {
  it('replays everything after a seq, with the right seqs, and nothing when up to date', () => {
    const b = new ReplayBuffer(10);
    const sent = [1, 2, 3, 4].map((seq) => {
      const x = d(seq);
      b.push(seq, x);
      return x;
    });
    expect(b.after(4)).toEqual([]);
    expect(b.after(1)).toEqual([
      { seq: 2, dispatch: sent[1] },
      { seq: 3, dispatch: sent[2] },
      { seq: 4, dispatch: sent[3] },
    ]);
    expect(b.after(0)?.map((s) => s.seq)).toEqual([1, 2, 3, 4]);
  });

  it('is bounded: a resume from before what it holds is refused, not partial', () => {
    const b = new ReplayBuffer(3);
    for (let seq = 1; seq <= 10; seq++) b.push(seq, d(seq));
    expect(b.after(7)?.map((s) => s.seq)).toEqual([8, 9, 10]);
    expect(b.after(6)).toBeUndefined();
    expect(b.after(0)).toBeUndefined();
  });

  it('grows from a few slots to its capacity and keeps order across the growth', () => {
    const b = new ReplayBuffer(100);
    for (let seq = 1; seq <= 250; seq++) b.push(seq, d(seq));
    const kept = b.after(150)!;
    expect(kept.map((s) => s.seq)).toEqual(Array.from({ length: 100 }, (_, i) => 151 + i));
    expect(kept.map((s) => JSON.parse(s.dispatch.head.toString() + '0}').d.n)).toEqual(kept.map((s) => s.seq));
    expect(b.after(149)).toBeUndefined();
  });

  it('with capacity 0 replays nothing but an up-to-date resume', () => {
    const b = new ReplayBuffer(0);
    b.push(1, d(1));
    b.push(2, d(2));
    expect(b.after(2)).toEqual([]);
    expect(b.after(1)).toBeUndefined();
  });

  it('refuses a seq that does not follow the last one', () => {
    const b = new ReplayBuffer(3);
    b.push(1, d(1));
    expect(() => b.push(3, d(3))).toThrow(RangeError);
  });

  it('startAfter refuses a buffer in use', () => {
    const b = new ReplayBuffer(3);
    b.push(1, d(1));
    expect(() => b.startAfter(5)).toThrow(RangeError);
  });

  describe('across its storage chunks (128 slots each past the first 128)', () => {
    /** A buffer of `capacity` after seqs `from`+1..`to`, and every dispatch pushed, by seq. */
    const filled = (capacity: number, to: number, from = 0) => {
      const b = new ReplayBuffer(capacity);
      if (from > 0) b.startAfter(from);
      const sent = new Map<number, EncodedDispatch>();
      for (let seq = from + 1; seq <= to; seq++) {
        const x = d(seq);
        sent.set(seq, x);
        b.push(seq, x);
      }
      return { b, sent };
    };
    /** What after(seq) must be: the pushed dispatches after it, by identity. */
    const expectAfter = ({ b, sent }: ReturnType<typeof filled>, seq: number, to: number) => {
      const got = b.after(seq);
      expect(got?.map((s) => s.seq)).toEqual(Array.from({ length: to - seq }, (_, i) => seq + 1 + i));
      got!.forEach((s) => expect(s.dispatch).toBe(sent.get(s.seq)));
    };

    it.each([128, 129, 300])('keeps all of %i pushes under capacity 1000, from any seq', (n) => {
      const ring = filled(1000, n);
      for (const seq of [0, 1, 63, 64, 126, 127, 128, 129, 200, 255, 256, 257, n - 1]) if (seq < n) expectAfter(ring, seq, n);
      expect(ring.b.after(n)).toEqual([]);
    });

    it('wraps at capacity 1000 over its chunks, and refuses a resume from before what it holds', () => {
      // 2,345 pushes: the ring wrapped twice and its oldest (seq 1,346) sits in the middle of a chunk.
      const to = 2345;
      const ring = filled(1000, to);
      for (const seq of [1345, 1346, 1400, 1473, 1474, 1999, 2000, 2001, 2100, 2344]) expectAfter(ring, seq, to);
      expect(ring.b.after(1344)).toBeUndefined();
      expect(ring.b.after(0)).toBeUndefined();
      expect(ring.b.after(to)).toEqual([]);
    });

    it('wraps exactly at capacity, including a last chunk smaller than the others', () => {
      for (const capacity of [128, 129, 130, 256, 300]) {
        for (const to of [capacity, capacity + 1, capacity + 127, capacity + 128, 3 * capacity + 5]) {
          const ring = filled(capacity, to);
          expectAfter(ring, to - capacity, to);
          expectAfter(ring, to - 1, to);
          expect(ring.b.after(to - capacity - 1)).toBeUndefined();
        }
      }
    });

    it('continues a session taken over at any seq across chunks', () => {
      const ring = filled(200, 1500, 1000);
      expectAfter(ring, 1300, 1500);
      expectAfter(ring, 1400, 1500);
      expect(ring.b.after(1299)).toBeUndefined();
      expect(ring.b.after(1000)).toBeUndefined();
    });
  });
});
