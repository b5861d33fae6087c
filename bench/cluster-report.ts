// The cluster benchmark's summary and markdown: per load (closed loop, paced)
// and node count, medians (min-max) of each figure over the repetitions, and
// the ratio of CPU per delivery against the single node, paired per
// repetition (the cases ran interleaved), for each load apart; and a batching
// line per case, to tell a ratio that comes from fewer posts per commit.
import type { ClusterSample, LoadKind } from './cluster.bench.js';
import { rounded, spread } from './summary.js';

export interface CaseFacts {
  nodes: number;
  connected: number;
  rssPerSessionBytes: number;
  idleUsPerS: number;
}

export interface ClusterReportInput {
  samples: readonly ClusterSample[];
  cases: readonly CaseFacts[];
  nodes: readonly number[];
  kinds: readonly LoadKind[];
  reps: number;
  heading: string;
  setting: string;
  /** The paced load's offered posts per second (to say when a case did not keep up). */
  pacedPosts: number;
}

/** A paced case answering fewer posts a second than this share of the offered rate (over the run, the last deliveries' wait included) did not keep up. */
const KEPT_UP = 0.8;

type Ratio = { median: number; min: number; max: number };

const LOAD_NAMES: Record<LoadKind, string> = {
  closed: 'closed loop',
  paced: 'paced',
};

function summarise(xs: readonly ClusterSample[]) {
  const nats = xs.map((s) => s.natsMessagesPerBroadcast).filter((v): v is number => v !== null);
  const natsBytes = xs.map((s) => s.natsBytesPerBroadcast).filter((v): v is number => v !== null);
  return {
    cpuUsPerDelivery: spread(xs.map((s) => s.cpuUsPerDelivery)),
    restUsPerDelivery: spread(xs.map((s) => s.restUsPerDelivery)),
    writesPerDelivery: spread(xs.map((s) => s.writesPerDelivery)),
    readsPerDelivery: spread(xs.map((s) => s.readsPerDelivery)),
    writesPerCommit: spread(xs.map((s) => s.writesPerCommit)),
    writesTimesPostsPerCommit: spread(xs.map(writesTimesPostsPerCommit)),
    switchesPerDelivery: spread(xs.map((s) => s.switchesPerDelivery)),
    postsPerS: spread(xs.map((s) => s.postsPerS)),
    deliveriesPerS: spread(xs.map((s) => s.deliveriesPerS)),
    natsMessagesPerBroadcast: nats.length ? spread(nats) : null,
    natsBytesPerBroadcast: natsBytes.length ? spread(natsBytes) : null,
    p50: spread(xs.map((s) => s.p50)),
    p99: spread(xs.map((s) => s.p99)),
    lost: xs.reduce((a, s) => a + s.lost, 0),
    duplicated: xs.reduce((a, s) => a + s.duplicated, 0),
  };
}

/**
 * Write syscalls per delivery times posts per commit: each commit's broadcasts make the sessions
 * write, so write syscalls per delivery go as 1 / posts per commit and this product stays put when
 * only the batching moved. Its ratio near 1 where the write syscalls' ratio is not says batching.
 */
const writesTimesPostsPerCommit = (s: ClusterSample) => s.writesPerDelivery * s.writesPerCommit;

/** Per load, `${n}n/${one}n` of `pick` paired per repetition. */
function pairedRatios(input: ClusterReportInput, kind: LoadKind, pick: (s: ClusterSample) => number): Record<string, Ratio> {
  const one = input.nodes.includes(1) ? 1 : input.nodes[0]!;
  const out: Record<string, Ratio> = {};
  for (const n of input.nodes.filter((n) => n !== one)) {
    const pairs: number[] = [];
    for (let rep = 1; rep <= input.reps; rep++) {
      const a = input.samples.find((s) => s.kind === kind && s.nodes === n && s.rep === rep);
      const b = input.samples.find((s) => s.kind === kind && s.nodes === one && s.rep === rep);
      if (a && b) pairs.push(pick(a) / pick(b));
    }
    out[`${n}n/${one}n`] = rounded(pairs, 3);
  }
  return out;
}

export function clusterReport(input: ClusterReportInput) {
  const summary = input.kinds.flatMap((kind) =>
    input.nodes.map((n) => ({ kind, nodes: n, ...summarise(input.samples.filter((s) => s.kind === kind && s.nodes === n)) })),
  );
  const ratios = Object.fromEntries(
    input.kinds.map((kind) => [
      kind,
      {
        cpuUsPerDelivery: pairedRatios(input, kind, (s) => s.cpuUsPerDelivery),
        cpuUsPerDeliveryLessRest: pairedRatios(input, kind, (s) => s.cpuUsPerDelivery - s.restUsPerDelivery),
        writesPerDelivery: pairedRatios(input, kind, (s) => s.writesPerDelivery),
        writesTimesPostsPerCommit: pairedRatios(input, kind, writesTimesPostsPerCommit),
      },
    ]),
  ) as Record<LoadKind, Record<'cpuUsPerDelivery' | 'cpuUsPerDeliveryLessRest' | 'writesPerDelivery' | 'writesTimesPostsPerCommit', Record<string, Ratio>>>;
  const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
  const r = (x: Ratio | undefined) => (x === undefined ? 'n/a' : `${f(x.median, 3)} (${f(x.min, 3)}-${f(x.max, 3)})`);
  const facts = (n: number) => input.cases.find((c) => c.nodes === n);
  const markdown = [
    input.heading,
    '',
    input.setting,
    '',
    '**closed loop**: a fixed number of posts awaiting their answer, so each node count runs at its own throughput and its commits batch as many posts as its round trips allow (the work per delivery differs). **paced**: the same offered post rate for every node count, so CPU per delivery compares the same work. "of which at rest": the nodes\' CPU per second at rest times the run\'s wall time, per delivery. "batching": write syscalls per delivery go as 1 / posts per commit, so their product stays put when only the batching differs; a write syscalls ratio whose product ratio is near 1 comes from batching.',
    '',
    '| load | nodes | CPU µs/delivery (all nodes) | of which at rest | posts/commit | write syscalls/delivery | read syscalls/delivery | context switches/delivery | posts/s | deliveries/s | fanout p50 ms | fanout p99 ms | NATS msgs/broadcast | NATS bytes/broadcast | lost | duplicated |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...summary.map(
      (s) =>
        `| ${LOAD_NAMES[s.kind]} | ${s.nodes} | ${f(s.cpuUsPerDelivery.median)} (${f(s.cpuUsPerDelivery.min)}-${f(s.cpuUsPerDelivery.max)}) | ${f(s.restUsPerDelivery.median)} | ${f(s.writesPerCommit.median)} | ${f(s.writesPerDelivery.median, 3)} | ${f(s.readsPerDelivery.median, 3)} | ${f(s.switchesPerDelivery.median, 3)} | ${f(s.postsPerS.median, 1)} | ${f(s.deliveriesPerS.median, 0)} | ${f(s.p50.median, 0)} | ${f(s.p99.median, 0)} | ${s.natsMessagesPerBroadcast ? f(s.natsMessagesPerBroadcast.median) : 'n/a'} | ${s.natsBytesPerBroadcast ? f(s.natsBytesPerBroadcast.median, 0) : 'n/a'} | ${s.lost} | ${s.duplicated} |`,
    ),
    '',
    '| nodes | sessions connected | at rest µs CPU/s (all nodes) | KiB/session |',
    '|---:|---:|---:|---:|',
    ...input.nodes.map((n) => `| ${n} | ${facts(n)?.connected ?? 0} | ${f(facts(n)?.idleUsPerS ?? NaN, 0)} | ${f((facts(n)?.rssPerSessionBytes ?? NaN) / 1024, 1)} |`),
    '',
    ...summary
      .filter((s) => s.kind === 'paced' && !(s.postsPerS.median >= KEPT_UP * input.pacedPosts))
      .map((s) => `WARNING: paced, ${s.nodes} node(s): ${f(s.postsPerS.median, 1)} posts/s answered of ${input.pacedPosts} offered: it did not keep up, so its paced figures do not compare the same work.`),
    ...cpuSplitLines(input, f),
    ...summary.map((s) => {
      const inFlight = [...new Set(input.samples.filter((x) => x.kind === s.kind && x.nodes === s.nodes).map((x) => x.inFlight))];
      const bound = inFlight.length === 1 && inFlight[0] !== undefined ? `, ${inFlight[0]} in flight` : '';
      return `batching, ${LOAD_NAMES[s.kind]}, ${s.nodes} node(s)${bound}: ${f(s.writesPerCommit.median)} posts/commit, ${f(s.writesPerDelivery.median, 3)} write syscalls/delivery, writes × posts/commit ${f(s.writesTimesPostsPerCommit.median, 3)} (${f(s.writesTimesPostsPerCommit.min, 3)}-${f(s.writesTimesPostsPerCommit.max, 3)})`;
    }),
    ...input.kinds.flatMap((kind) =>
      Object.keys(ratios[kind].cpuUsPerDelivery).map(
        (k) =>
          `${LOAD_NAMES[kind]}: CPU per delivery ${k} ${r(ratios[kind].cpuUsPerDelivery[k])}${k.startsWith('3n/') ? ` (target <= 1.2: ${ratios[kind].cpuUsPerDelivery[k]!.median <= 1.2 ? 'met' : 'NOT met'})` : ''}; less the at-rest share ${r(ratios[kind].cpuUsPerDeliveryLessRest[k])}; write syscalls per delivery ${r(ratios[kind].writesPerDelivery[k])}, writes × posts/commit ${r(ratios[kind].writesTimesPostsPerCommit[k])}`,
      ),
    ),
    '',
  ].join('\n');
  return { summary, ratios, markdown };
}

const sum = (xs: readonly number[] | undefined) => (xs === undefined ? NaN : xs.reduce((a, b) => a + b, 0));

/**
 * Per load and node count, where the CPU per delivery goes, summed over the nodes (medians over the
 * repetitions): the kernel's share (stime), the main threads' and the other threads'; and how the
 * scheduler treated the main threads (moves to another CPU, time runnable but waiting for one).
 * Samples from before these were read have none of them: no line.
 */
function cpuSplitLines(input: ClusterReportInput, f: (x: number, d?: number) => string): string[] {
  const lines: string[] = [];
  for (const kind of input.kinds) {
    for (const n of input.nodes) {
      const xs = input.samples.filter((s) => s.kind === kind && s.nodes === n && s.sysUsPerDeliveryByNode !== undefined);
      if (xs.length === 0) continue;
      const m = (pick: (s: ClusterSample) => number) => spread(xs.map(pick)).median;
      const main = m((s) => sum(s.mainUsPerDeliveryByNode));
      lines.push(
        `${LOAD_NAMES[kind]}, ${n} node(s), µs/delivery summed: kernel (stime) ${f(m((s) => sum(s.sysUsPerDeliveryByNode)))}, main threads ${f(main)}, other threads ${f(m((s) => s.cpuUsPerDelivery) - main)}; main threads moved to another CPU ${f(m((s) => sum(s.migrationsPer1kDeliveriesByNode)))} times per 1,000 deliveries, waited runnable ${f(m((s) => sum(s.runDelayUsPerDeliveryByNode)))} µs/delivery`,
      );
    }
  }
  return lines;
}
