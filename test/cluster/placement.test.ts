// Rendezvous placement: deterministic, even, and moving only what it must.
import { describe, expect, it } from 'vitest';
import { rendezvousHome } from '../../cluster/placement.js';

// Guild ids shaped like the server's (snowflakes: long runs of equal digits),
// node ids shaped like the default host:port: similar strings are where a weak hash shows.
const keys = Array.from({ length: 30_000 }, (_, i) => String(1_290_000_000_000_000_000n + BigInt(i) * 4_194_304n));
const [n1, n2, n3] = ['127.0.0.1:8081', '127.0.0.1:8082', '127.0.0.1:8083'] as const;
const three = [n1, n2, n3];

function homes(nodes: readonly string[]): string[] {
  return keys.map((k) => rendezvousHome(k, nodes) as string);
}

function counts(assigned: readonly string[]): Map<string, number> {
  const c = new Map<string, number>();
  for (const n of assigned) c.set(n, (c.get(n) ?? 0) + 1);
  return c;
}

describe('rendezvousHome', () => {
  it('has no home without nodes, and the only node with one', () => {
    expect(rendezvousHome('g1', [])).toBeUndefined();
    expect(rendezvousHome('g1', ['a'])).toBe('a');
  });

  it('is deterministic and independent of the order of the node list', () => {
    const reversed = [...three].reverse();
    const shuffled = [n2, n3, n1];
    for (const k of keys.slice(0, 2_000)) {
      const h = rendezvousHome(k, three);
      expect(h).toBeDefined();
      expect(rendezvousHome(k, three)).toBe(h);
      expect(rendezvousHome(k, reversed)).toBe(h);
      expect(rendezvousHome(k, shuffled)).toBe(h);
    }
  });

  it.each([
    ['3 host:port nodes', three],
    ['2 nodes', ['node-a', 'node-b']],
    ['5 nodes on other hosts', ['10.0.0.1:8080', '10.0.0.2:8080', '10.0.0.3:8080', '10.0.0.4:8080', '10.0.0.5:8080']],
  ])('spreads 30,000 keys evenly over %s (each within 4%% of its share)', (_name, nodes) => {
    const c = counts(homes(nodes));
    const share = keys.length / nodes.length;
    expect([...c.keys()].sort()).toEqual([...nodes].sort());
    for (const n of nodes) expect(Math.abs((c.get(n) ?? 0) - share) / share).toBeLessThan(0.04);
  });

  it('moves only the keys the joining node wins when a node joins (about 1/4 of them for the 4th)', () => {
    const before = homes(three);
    const joined = '127.0.0.1:8084';
    const after = homes([...three, joined]);
    let moved = 0;
    before.forEach((was, i) => {
      if (after[i] === was) return;
      moved++;
      expect(after[i]).toBe(joined);
    });
    expect(moved / keys.length).toBeGreaterThan(0.22);
    expect(moved / keys.length).toBeLessThan(0.28);
  });

  it('moves only the keys of the node that leaves, spread over the others', () => {
    const before = homes(three);
    const after = homes([n1, n3]);
    const orphans: string[] = [];
    before.forEach((was, i) => {
      if (was === n2) orphans.push(after[i] as string);
      else expect(after[i]).toBe(was);
    });
    const movedTo = counts(orphans);
    expect((movedTo.get(n1) ?? 0) / orphans.length).toBeGreaterThan(0.45);
    expect((movedTo.get(n3) ?? 0) / orphans.length).toBeGreaterThan(0.45);
  });
});
