import { describe, expect, it } from 'vitest';
import { Mailbox, type MailboxEntry } from '../../actors/index.js';

const entry = (n: number): MailboxEntry => ({ op: 'cast', payload: n, enqueuedAt: n, dequeuedAt: 0, depth: 0, reply: undefined });

describe('Mailbox', () => {
  it('is FIFO across ring wrap-around and growth', () => {
    const box = new Mailbox(100);
    const out: unknown[] = [];
    for (let i = 0; i < 10; i++) box.push(entry(i));
    for (let i = 0; i < 5; i++) out.push(box.shift()?.payload);
    for (let i = 10; i < 60; i++) box.push(entry(i));
    for (let e = box.shift(); e; e = box.shift()) out.push(e.payload);
    expect(out).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(box.depth).toBe(0);
  });

  it('reports depth and fullness at its capacity', () => {
    const box = new Mailbox(3);
    box.push(entry(1));
    box.push(entry(2));
    expect(box.full).toBe(false);
    box.push(entry(3));
    expect(box.full).toBe(true);
    expect(box.depth).toBe(3);
    expect(box.drain().map((e) => e.payload)).toEqual([1, 2, 3]);
    expect(box.depth).toBe(0);
  });

  it('rejects a capacity that is not a positive integer', () => {
    expect(() => new Mailbox(0)).toThrow(RangeError);
    expect(() => new Mailbox(1.5)).toThrow(RangeError);
  });
});
