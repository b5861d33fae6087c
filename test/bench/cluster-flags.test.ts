// The cluster benchmark's flags: --in-flight takes one bound for every node
// count or one per node count, in --nodes order, and refuses anything else.
import { describe, expect, it } from 'vitest';
import { parseClusterFlags } from '../../bench/cluster.bench.js';

class FlagError extends Error {}
const refuse = (message: string): never => {
  throw new FlagError(message);
};
const parse = (...argv: string[]) => parseClusterFlags(argv, refuse);

describe('parseClusterFlags --in-flight', () => {
  it('gives every node count the one bound when one is given, 16 by default', () => {
    expect(parse('--nodes', '1,2,3').inFlight).toEqual([16, 16, 16]);
    expect(parse('--nodes', '1,3', '--in-flight', '24').inFlight).toEqual([24, 24]);
  });

  it('pairs a list with --nodes in order', () => {
    const o = parse('--nodes', '3,1', '--in-flight', '32,16');
    expect(o.nodes).toEqual([3, 1]);
    expect(o.inFlight).toEqual([32, 16]);
  });

  it('refuses a list whose length is not that of --nodes', () => {
    expect(() => parse('--nodes', '1,3', '--in-flight', '16,32,48')).toThrow('--in-flight: one value, or one per node count (2 for --nodes 1,3); got 3');
    expect(() => parse('--nodes', '1,2,3', '--in-flight', '16,32')).toThrow('got 2');
  });

  it('refuses bounds that are not whole numbers from 1 to 1024', () => {
    expect(() => parse('--in-flight', '16,x')).toThrow('--in-flight must be a number or a comma-separated list');
    expect(() => parse('--in-flight', '16,')).toThrow('--in-flight must be a number or a comma-separated list');
    expect(() => parse('--nodes', '1,3', '--in-flight', '0,16')).toThrow('--in-flight: at least 1');
    expect(() => parse('--nodes', '1,3', '--in-flight', '16,2000')).toThrow('--in-flight: at most 1024');
  });

  it('reports a bad --nodes as such when --in-flight is a list', () => {
    expect(() => parse('--nodes', 'x', '--in-flight', '16,32')).toThrow(/^--nodes must be a comma-separated list of node counts, e\.g\. 1,2,3$/);
  });
});
