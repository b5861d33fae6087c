import { describe, expect, it } from 'vitest';
import { COMPILE_FUNCTIONS, selfInstructionsOf } from '../../bench/callgrind-dump.js';
import { clusteredMedianCi, steadySections } from '../../bench/counted-sections.js';

// A dump in callgrind's own format: compressed names, a name defined first in
// a call (cfn=) and used later by id, and call lines whose cost is the
// callee's inclusive cost, not the caller's.
const DUMP = `# callgrind format
version: 1
positions: line
events: Ir
summary: 1111

ob=(1) /usr/bin/node
fl=(1) ???
fn=(1) v8::internal::compiler::PipelineImpl::OptimizeGraph(v8::internal::compiler::Linkage*)
0 100
cfn=(2) v8::internal::Deoptimizer::New(v8::internal::Address)
calls=1 0
0 10000
fn=(3) Builtins_CallFunction
0 1000
+2 5
cfn=(1)
calls=3 0
0 50000
fn=(2)
0 6
`;

describe('selfInstructionsOf', () => {
  it("sums the compilers' own instructions, not what their calls cost", () => {
    expect(selfInstructionsOf(DUMP, COMPILE_FUNCTIONS)).toBe(106);
    expect(selfInstructionsOf(DUMP, /./)).toBe(1111);
  });

  it('resolves a name defined in an earlier dump of the same process', () => {
    const names = new Map<string, string>();
    selfInstructionsOf(DUMP, COMPILE_FUNCTIONS, names);
    expect(selfInstructionsOf('fn=(1)\n0 40\nfn=(3)\n0 7\n', COMPILE_FUNCTIONS, names)).toBe(40);
    expect(selfInstructionsOf('fn=(1)\n0 40\n', COMPILE_FUNCTIONS)).toBe(0);
  });
});

describe('steadySections', () => {
  const s = (perUnit: number, compilePerUnit = 0) => ({ perUnit, compilePerUnit });

  it('leaves out the sections that compiled, and says which', () => {
    const run = steadySections([s(2372, 400), s(1835), s(1900, 30), s(1825), s(1826), s(1821)], 3);
    expect(run).toEqual({ compiling: [0, 2], steady: [1835, 1825, 1826, 1821], ok: true });
  });

  it('is not ok when too few steady sections are left', () => {
    expect(steadySections([s(2100, 250), s(1800), s(2100, 250), s(1800)], 3)).toMatchObject({ compiling: [0, 2], ok: false });
  });

  it('tolerates compile work below one instruction per unit', () => {
    expect(steadySections([s(1800, 0.4), s(1801)], 2)).toMatchObject({ compiling: [], ok: true });
  });
});

describe('clusteredMedianCi', () => {
  it('is wider when processes disagree than the same sections in one process', () => {
    const a = [1830, 1831, 1829, 1832, 1830];
    const b = [1894, 1893, 1895, 1894, 1896];
    const two = clusteredMedianCi([a, b]);
    const one = clusteredMedianCi([[...a, ...b]]);
    expect(two.low).toBeLessThanOrEqual(1831);
    expect(two.high).toBeGreaterThanOrEqual(1894);
    expect(two.high - two.low).toBeGreaterThan(one.high - one.low);
    expect(clusteredMedianCi([a, b])).toEqual(two);
  });

  it('is a point when every section agrees', () => {
    expect(clusteredMedianCi([[7, 7], [7]])).toEqual({ median: 7, low: 7, high: 7 });
  });
});
