// Event-loop delay for /metrics, under prom-client's own names
// (nodejs_eventloop_lag_{min,max,mean,stddev,p50,p90,p99}_seconds), sampled
// 10 times a second instead of prom-client's 100.
//
// Node's histogram records the whole interval between two samples, the
// sampling period included
// (https://nodejs.org/api/perf_hooks.html#perf_hooksmonitoreventloopdelayoptions):
// at a 10 ms period an idle loop reads 10 ms, at 100 ms it reads 100 ms.
// prom-client reports those intervals as they are, so its period has to stay
// small for the figures to mean delay, and every node then wakes 100 times a
// second to take them (about 4 ms of CPU a second on this machine's idle
// node). Here the period is subtracted: the gauges read the delay itself, and
// an idle server wakes 10 times a second.
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';

/** The sampling period. A blocked loop still shows in full; a stall shorter than this may fall between samples. */
export const EVENT_LOOP_SAMPLE_MS = 100;

const NS_PER_S = 1e9;

const READINGS: readonly { suffix: string; help: string; read: (h: IntervalHistogram) => number }[] = [
  { suffix: 'min', help: 'The shortest event-loop delay sampled since the last scrape', read: (h) => h.min },
  { suffix: 'max', help: 'The longest event-loop delay sampled since the last scrape', read: (h) => h.max },
  { suffix: 'mean', help: 'The mean event-loop delay sampled since the last scrape', read: (h) => h.mean },
  { suffix: 'p50', help: 'The median event-loop delay sampled since the last scrape', read: (h) => h.percentile(50) },
  { suffix: 'p90', help: 'The 90th percentile of event-loop delay sampled since the last scrape', read: (h) => h.percentile(90) },
  { suffix: 'p99', help: 'The 99th percentile of event-loop delay sampled since the last scrape', read: (h) => h.percentile(99) },
];

/**
 * Replaces prom-client's event-loop delay gauges in `registry` (registered by
 * collectDefaultMetrics) with ones read from a 10 Hz histogram, the period
 * taken out. Returns a stop function (the histogram's timer).
 */
export function registerEventLoopDelay(registry: Registry): () => void {
  const histogram = monitorEventLoopDelay({ resolution: EVENT_LOOP_SAMPLE_MS });
  histogram.enable();
  const periodNs = EVENT_LOOP_SAMPLE_MS * 1e6;
  // No sample yet (a scrape within the first period): min is a huge sentinel and the rest 0, so report 0.
  const delay = (ns: number) => (histogram.count === 0 ? 0 : Math.max(0, ns - periodNs) / NS_PER_S);
  const stddev = 'nodejs_eventloop_lag_stddev_seconds';
  registry.removeSingleMetric(stddev);
  const gauges: { gauge: Gauge; read: (h: IntervalHistogram) => number }[] = [];
  // Registered first: its collect sets every gauge, then starts a new window, as prom-client's own does.
  new Gauge({
    name: stddev,
    help: 'The standard deviation of the event-loop delay sampled since the last scrape',
    registers: [registry],
    collect() {
      this.set(histogram.count === 0 ? 0 : histogram.stddev / NS_PER_S);
      for (const { gauge, read } of gauges) gauge.set(delay(read(histogram)));
      histogram.reset();
    },
  });
  for (const { suffix, help, read } of READINGS) {
    const name = `nodejs_eventloop_lag_${suffix}_seconds`;
    registry.removeSingleMetric(name);
    gauges.push({ gauge: new Gauge({ name, help, registers: [registry] }), read });
  }
  return () => histogram.disable();
}
