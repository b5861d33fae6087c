import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { applyHeapGrowth } from '../../server/heap-growth.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('applyHeapGrowth', () => {
  it('sets V8 growth step, or leaves V8 its own choice at 0', () => {
    const set: string[] = [];
    expect(applyHeapGrowth(100, [], (f) => set.push(f))).toBe(100);
    expect(applyHeapGrowth(0, [], (f) => set.push(f))).toBeUndefined();
    expect(set).toEqual(['--heap-growing-percent=100']);
  });

  it('leaves a V8 flag given on the command line alone', () => {
    const set: string[] = [];
    expect(applyHeapGrowth(100, ['--expose-gc', '--heap-growing-percent=30'], (f) => set.push(f))).toBe(30);
    expect(applyHeapGrowth(100, ['--heap_growing_percent=0'], (f) => set.push(f))).toBeUndefined();
    expect(set).toEqual([]);
  });

  // The point of the setting is that V8 reads it after start-up. Checked on the running V8: after a full
  // collection leaves ~60 MB live, 45 MB more of retained objects come under a 100 % step (limit ~120 MB)
  // without another major collection, and not under a 10 % step (limit ~66 MB; V8's own choice here made none).
  it.each([
    { percent: 100, atLeast: 0 },
    { percent: 10, atLeast: 1 },
  ])('takes effect at run time (a $percent % step)', ({ percent, atLeast }) => {
    const script = `
      import { PerformanceObserver, constants } from 'node:perf_hooks';
      import { applyHeapGrowth } from './server/heap-growth.ts';
      applyHeapGrowth(${percent}, []);
      const keep = [];
      const grow = (mb) => { for (let i = 0; i < mb * 1024; i++) keep.push({ a: new Array(100).fill(i) }); };
      grow(60);
      gc();
      let majors = 0;
      const seen = new PerformanceObserver((list) => { for (const e of list.getEntries()) if (e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors++; });
      seen.observe({ entryTypes: ['gc'] });
      grow(45);
      setTimeout(() => { seen.disconnect(); process.stdout.write(JSON.stringify({ majors })); }, 50);
    `;
    const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    const { majors } = JSON.parse(out) as { majors: number };
    if (atLeast === 0) expect(majors).toBe(0);
    else expect(majors).toBeGreaterThanOrEqual(atLeast);
  });
});
