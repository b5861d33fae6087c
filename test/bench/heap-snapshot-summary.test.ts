import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retainers, summariseHeapSnapshot } from '../../bench/heap-snapshot-summary.js';

/** Holds what the snapshot is asked about, on a path the test knows. */
class RetainerTestHolder {
  readonly slot: object[] = [];
  text = '';
}

const GLOBAL = 'guildhallRetainerTestHolder';

describe('heap-snapshot-summary', () => {
  let dir: string;
  let path: string;

  beforeAll(() => {
    const holder = new RetainerTestHolder();
    for (let i = 0; i < 3; i++) holder.slot.push({ rtMarkerA: `a${i}`, rtMarkerB: [i] });
    // Built at run time, so the only copy is the holder's (not the test's source text).
    holder.text = ['rt', 'marker', 'text', String(Date.now() % 7)].join('-');
    (globalThis as Record<string, unknown>)[GLOBAL] = holder;
    dir = mkdtempSync(join(tmpdir(), 'gh-heap-'));
    path = writeHeapSnapshot(join(dir, 'test.heapsnapshot'));
  });

  afterAll(() => {
    delete (globalThis as Record<string, unknown>)[GLOBAL];
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds objects by their properties and says who holds them', () => {
    const r = retainers(path, { props: ['rtMarkerA', 'rtMarkerB'] }, 3);
    expect(r.matched).toBe(3);
    expect(r.unreachable).toBe(0);
    // Grouped by path: each object is a different element of the array, so the element index tells them apart.
    expect(r.paths.map((p) => p.count).reduce((a, b) => a + b, 0)).toBe(3);
    for (const p of r.paths) expect(p.path).toMatch(/^Object <-element:\[\d\]- Array <-property:slot- RetainerTestHolder <-property:guildhallRetainerTestHolder- /);
  });

  it('finds strings by their text', () => {
    const r = retainers(path, { text: /^rt-marker-text-\d$/ }, 2);
    expect(r.matched).toBe(1);
    expect(r.paths).toHaveLength(1);
    expect(r.paths[0]!.path).toMatch(/^\(string\) <-property:text- RetainerTestHolder <-property:guildhallRetainerTestHolder- /);
  });

  it('matches nothing that is not there', () => {
    expect(retainers(path, { props: ['rtMarkerA', 'noSuchProperty'] }).matched).toBe(0);
  });

  it('still counts kinds of objects', () => {
    expect(summariseHeapSnapshot(path).get('RetainerTestHolder')).toMatchObject({ count: 1 });
  });
});
