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

  it('prints a batching line per case and pairs writes × posts/commit, so a writes ratio from fewer posts per commit shows as such', () => {
    const b = (s: ClusterSample, inFlight: number, postsPerCommit: number, writes: number): ClusterSample => ({ ...s, inFlight, writesPerCommit: postsPerCommit, writesPerDelivery: writes });
    const r = clusterReport({
      ...input,
      kinds: ['closed'],
      samples: [
        // 3 nodes at half the posts per commit write twice as often: the same product, 0.8.
        b(sample('closed', 1, 1, 4, 20), 16, 6, 0.8 / 6), b(sample('closed', 3, 1, 8, 15), 16, 3, 0.8 / 3),
        // Second repetition: 3 nodes write 1.25x as much per post committed as well.
        b(sample('closed', 1, 2, 4, 20), 16, 8, 0.1), b(sample('closed', 3, 2, 8, 15), 16, 4, 0.25),
      ],
    });
    expect(r.ratios.closed.writesPerDelivery['3n/1n']!.median).toBeCloseTo(2.25, 6);
    expect(r.ratios.closed.writesTimesPostsPerCommit['3n/1n']).toEqual({ median: 1.125, min: 1, max: 1.25 });
    expect(r.markdown).toContain('batching, closed loop, 1 node(s), 16 in flight: 7.00 posts/commit, 0.117 write syscalls/delivery, writes × posts/commit 0.800 (0.800-0.800)');
    expect(r.markdown).toContain('batching, closed loop, 3 node(s), 16 in flight: 3.50 posts/commit, 0.258 write syscalls/delivery, writes × posts/commit 0.900 (0.800-1.000)');
    expect(r.markdown).toContain('write syscalls per delivery 2.250 (2.000-2.500), writes × posts/commit 1.125 (1.000-1.250)');
  });

  it('leaves the in-flight bound out of the batching line for samples that do not carry one', () => {
    const r = clusterReport({ ...input, kinds: ['closed'], samples: [sample('closed', 1, 1, 4, 20), sample('closed', 3, 1, 8, 15)] });
    expect(r.markdown).toContain('batching, closed loop, 1 node(s): 3.00 posts/commit, 0.100 write syscalls/delivery, writes × posts/commit 0.300 (0.300-0.300)');
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
