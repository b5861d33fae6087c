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
});
