import { Registry, collectDefaultMetrics } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { EVENT_LOOP_SAMPLE_MS, registerEventLoopDelay } from '../../../server/metrics/event-loop-delay.js';

const stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

async function gauges(registry: Registry): Promise<Map<string, number>> {
  const json = await registry.getMetricsAsJSON();
  return new Map(json.filter((m) => m.name.startsWith('nodejs_eventloop_lag_')).map((m) => [m.name, Number(m.values[0]?.value)]));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('event-loop delay gauges', () => {
  it('take the place of prom-client\'s, once each', async () => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 1000 });
    stops.push(registerEventLoopDelay(registry));
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name).filter((n) => n.startsWith('nodejs_eventloop_lag_'));
    expect(names.sort()).toEqual(
      ['lag', 'lag_max', 'lag_mean', 'lag_min', 'lag_p50', 'lag_p90', 'lag_p99', 'lag_stddev'].map((s) => `nodejs_event${'loop'}_${s}_seconds`).sort(),
    );
    // A scrape before the first sample reads 0, not the histogram's empty-state sentinels.
    expect([...(await gauges(registry)).entries()].filter(([n]) => n !== 'nodejs_eventloop_lag_seconds').every(([, v]) => v === 0)).toBe(true);
  });

  it('read the delay, not the sampling period: an idle loop near 0, a blocked one the time it was held', async () => {
    const registry = new Registry();
    stops.push(registerEventLoopDelay(registry));
    await sleep(EVENT_LOOP_SAMPLE_MS * 6);
    await gauges(registry); // a new window
    await sleep(EVENT_LOOP_SAMPLE_MS * 6);
    const idle = await gauges(registry);
    // Node's histogram holds the whole interval (period included): a 100 ms period would read 0.1 s and more.
    expect(idle.get('nodejs_eventloop_lag_min_seconds')!).toBeLessThan(0.05);
    // Node's reset (each scrape) forgets the last sample's time: the first interval after it is not recorded.
    await sleep(EVENT_LOOP_SAMPLE_MS * 2);
    const until = performance.now() + 3 * EVENT_LOOP_SAMPLE_MS;
    while (performance.now() < until) {
      // Holding the loop is the point.
    }
    await sleep(EVENT_LOOP_SAMPLE_MS * 2);
    const blocked = await gauges(registry);
    expect(blocked.get('nodejs_eventloop_lag_max_seconds')!).toBeGreaterThanOrEqual((2 * EVENT_LOOP_SAMPLE_MS) / 1000);
  });
});
