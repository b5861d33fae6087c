// Target lists interned per pair of nodes: a list is defined once, then named;
// both sides evict alike, so a receiver with at least the sender's budget
// knows every list the sender names; a new sender incarnation starts afresh.
import { describe, expect, it } from 'vitest';
import { KnownLists, type ListSpec, SentLists } from '../../cluster/target-lists.js';
import type { WireTargets } from '../../cluster/wire.js';

const list = (prefix: string, n: number): WireTargets => [['session', Array.from({ length: n }, (_, i) => `${prefix}${i}`)]];

describe('target lists', () => {
  it('defines a list the first time it goes to a node, names it after, per node; a changed list is a new definition', () => {
    const sent = new SentLists(1_000);
    const a = list('a', 10);
    expect(JSON.parse(sent.spec('n2', a, 10))).toEqual({ d: 1, l: a });
    // The same targets in another array (each broadcast collects its own) are the same list.
    expect(JSON.parse(sent.spec('n2', list('a', 10), 10))).toEqual({ r: 1 });
    // Another node has not been sent it.
    expect(JSON.parse(sent.spec('n3', a, 10))).toEqual({ d: 2, l: a });
    const grown = list('a', 11);
    expect(JSON.parse(sent.spec('n2', grown, 11))).toEqual({ d: 3, l: grown });
    // Same length, first and last id, different middle: compared in full.
    const b: WireTargets = [['session', ['a0', 'x', 'a9']]];
    const c: WireTargets = [['session', ['a0', 'y', 'a9']]];
    expect(JSON.parse(sent.spec('n2', b, 3))).toEqual({ d: 4, l: b });
    expect(JSON.parse(sent.spec('n2', c, 3))).toEqual({ d: 5, l: c });
    expect(JSON.parse(sent.spec('n2', c, 3))).toEqual({ r: 5 });
    // Past the budget a list goes whole and is not kept.
    const huge = list('h', 2_000);
    expect(JSON.parse(sent.spec('n2', huge, 2_000))).toEqual({ l: huge });
    expect(JSON.parse(sent.spec('n2', huge, 2_000))).toEqual({ l: huge });
  });

  it('evicts the least recently used list past the budget, on both sides alike: the receiver always knows what the sender names', () => {
    const sent = new SentLists(100);
    const known = new KnownLists('n2', 200);
    known.sameIncarnation('n1', 'i1');
    const lists = Array.from({ length: 8 }, (_, i) => list(`g${i}-`, 30));
    // A pseudo-random order of use, with repeats.
    let x = 7;
    let refs = 0;
    for (let step = 0; step < 400; step++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const l = lists[x % lists.length]!;
      const spec = JSON.parse(sent.spec('n1', l, 30)) as ListSpec;
      if ('r' in spec) refs++;
      const to = known.resolve('n1', spec);
      expect(to).not.toBe('unknown');
      expect((to as { id: string }[]).map((a) => a.id)).toEqual(l[0]![1]);
      expect(sent.held('n1')).toBeLessThanOrEqual(100);
    }
    expect(refs).toBeGreaterThan(50);
    expect(known.held('n1')).toBeLessThanOrEqual(200);
  });

  it('a receiver that lost a list answers unknown; an answer defines it again, or says it is gone', () => {
    const sent = new SentLists(1_000);
    const a = list('a', 5);
    sent.spec('n2', a, 5);
    const ref = JSON.parse(sent.spec('n2', a, 5)) as ListSpec;
    const fresh = new KnownLists('n2', 2_000);
    fresh.sameIncarnation('n1', 'i1');
    expect(fresh.resolve('n1', ref)).toBe('unknown');
    fresh.answer('n1', JSON.parse(sent.answer('n2', 1)) as ListSpec);
    expect((fresh.resolve('n1', ref) as { id: string; node: string }[]).map((t) => `${t.node}/${t.id}`)).toEqual(['n2/a0', 'n2/a1', 'n2/a2', 'n2/a3', 'n2/a4']);
    expect(JSON.parse(sent.answer('n2', 99))).toEqual({ g: 99 });
    fresh.answer('n1', { g: 99 });
    expect(fresh.resolve('n1', { r: 99 })).toBe('gone');
  });

  it('a new incarnation of a sender replaces what was held from it; a forgotten node starts afresh', () => {
    const known = new KnownLists('n2', 2_000);
    expect(known.sameIncarnation('n1', 'old')).toBe(true);
    known.resolve('n1', { d: 1, l: list('a', 3) });
    expect(known.sameIncarnation('n1', 'old')).toBe(true);
    expect(known.held('n1')).toBe(3);
    expect(known.sameIncarnation('n1', 'new')).toBe(false);
    expect(known.held('n1')).toBe(0);
    expect(known.resolve('n1', { r: 1 })).toBe('unknown');

    const sent = new SentLists(1_000);
    sent.spec('n2', list('a', 3), 3);
    sent.forget('n2');
    expect(sent.held('n2')).toBe(0);
    expect(JSON.parse(sent.spec('n2', list('a', 3), 3))).toMatchObject({ d: 2 });
  });

  it('refuses malformed specs', () => {
    const known = new KnownLists('n2', 2_000);
    known.sameIncarnation('n1', 'i1');
    expect(() => known.resolve('n1', null as unknown as ListSpec)).toThrow(TypeError);
    expect(() => known.resolve('n1', { l: [['session', [1]]] } as unknown as ListSpec)).toThrow(TypeError);
    expect(() => known.resolve('n1', { d: 'x', l: list('a', 1) } as unknown as ListSpec)).toThrow(TypeError);
    expect(() => known.resolve('n1', { g: 1 })).toThrow(TypeError);
    // A definition from a frame that does not name its sender.
    expect(() => known.resolve(undefined, { d: 1, l: list('a', 1) })).toThrow(TypeError);
  });
});
