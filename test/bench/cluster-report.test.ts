// The cluster benchmark's report: each load's 3n/1n ratio from its own runs,
// paired per repetition, and a paced case that fell behind flagged.
import { describe, expect, it } from 'vitest';
import { clusterReport } from '../../bench/cluster-report.js';
import type { ClusterSample, LoadKind } from '../../bench/cluster.bench.js';

function sample(kind: LoadKind, nodes: number, rep: number, cpu: number, postsPerS: number, rest = 0): ClusterSample {
  return {
    nodes, kind, rep, cpuUsPerDelivery: cpu, cpuUsPerDeliveryByNode: [cpu], writesPerDelivery: 0.1 * nodes, writesPerDeliveryByNode: [0.1],
    writesPerCommit: 3, readsPerDelivery: 0, switchesPerDelivery: 0, switchesByKind: [0, 0, 0, 0], pids: [1], startUs: 0, endUs: 1,
    deliveriesPerS: 1000, postsPerS, restUsPerDelivery: rest, natsMessagesPerBroadcast: null, natsBytesPerBroadcast: null,
    p50: 10, p99: 20, sent: 100, expected: 100, delivered: 100, lost: 0, duplicated: 0,
  };
}

describe('clusterReport', () => {
  const input = {
    cases: [],
    nodes: [1, 3],
    kinds: ['closed', 'paced'] as LoadKind[],
    reps: 2,
    heading: '### h',
    setting: 's',
    pacedPosts: 10,
  };

  it('pairs each load with itself: the closed loop and the paced runs get a 3n/1n ratio each', () => {
    const r = clusterReport({
      ...input,
      samples: [
        sample('closed', 1, 1, 4, 20), sample('closed', 3, 1, 8, 15), sample('closed', 1, 2, 5, 20), sample('closed', 3, 2, 10, 15),
        sample('paced', 1, 1, 4, 9.5, 1), sample('paced', 3, 1, 5, 9.5, 2), sample('paced', 1, 2, 5, 9.5, 1), sample('paced', 3, 2, 6, 9.5, 2),
      ],
    });
    expect(r.ratios.closed.cpuUsPerDelivery['3n/1n']).toEqual({ median: 2, min: 2, max: 2 });
    expect(r.ratios.paced.cpuUsPerDelivery['3n/1n']).toEqual({ median: 1.225, min: 1.2, max: 1.25 });
    // Less the at-rest share: (5-2)/(4-1) = 1 and (6-2)/(5-1) = 1.
    expect(r.ratios.paced.cpuUsPerDeliveryLessRest['3n/1n']).toEqual({ median: 1, min: 1, max: 1 });
    expect(r.markdown).toContain('| closed loop | 3 |');
    expect(r.markdown).toContain('| paced | 1 |');
    expect(r.markdown).not.toContain('WARNING');
  });

  it('flags a paced case that answered under 80% of the offered posts', () => {
    const r = clusterReport({
      ...input,
      kinds: ['paced'],
      samples: [sample('paced', 1, 1, 4, 9), sample('paced', 3, 1, 5, 7.9), sample('paced', 1, 2, 4, 9), sample('paced', 3, 2, 5, 7.9)],
    });
    expect(r.markdown).toContain('WARNING: paced, 3 node(s): 7.9 posts/s answered of 10 offered');
    expect(r.markdown).not.toContain('WARNING: paced, 1 node(s)');
  });

  it('splits CPU per delivery into the kernel, main and other threads, with the main threads\' CPU moves and waits, summed over the nodes', () => {
    const split = (s: ClusterSample, sys: number[], main: number[], moves: number[], wait: number[]): ClusterSample => ({
      ...s,
      cpuUsPerDeliveryByNode: main.map(() => s.cpuUsPerDelivery / main.length),
      sysUsPerDeliveryByNode: sys,
      mainUsPerDeliveryByNode: main,
      migrationsPer1kDeliveriesByNode: moves,
      runDelayUsPerDeliveryByNode: wait,
    });
    const r = clusterReport({
      ...input,
      kinds: ['paced'],
      samples: [
        split(sample('paced', 1, 1, 16, 10), [6], [13], [1], [0.5]),
        split(sample('paced', 3, 1, 21, 10), [3, 3, 3], [5, 5, 6], [2, 2, 3], [1, 1, 2]),
        // Samples from before the split was read (an older result): no line for them.
        sample('paced', 1, 2, 16, 10),
        sample('paced', 3, 2, 21, 10),
      ],
    });
    expect(r.markdown).toContain('paced, 1 node(s), µs/delivery summed: kernel (stime) 6.00, main threads 13.00, other threads 3.00; main threads moved to another CPU 1.00 times per 1,000 deliveries, waited runnable 0.50 µs/delivery');
    expect(r.markdown).toContain('paced, 3 node(s), µs/delivery summed: kernel (stime) 9.00, main threads 16.00, other threads 5.00; main threads moved to another CPU 7.00 times per 1,000 deliveries, waited runnable 4.00 µs/delivery');
  });
});
