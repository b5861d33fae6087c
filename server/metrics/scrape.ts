// Metrics whose values are read at scrape time from counters the server keeps
// anyway (plain integers, stats() objects). Nothing is updated on the hot path
// for them: prom-client calls collect() just before it renders the text.
import { Counter, Gauge, type Registry } from 'prom-client';

export type Labelled = Iterable<readonly [Record<string, string | number>, number]>;

/**
 * A counter mirrored from a running total. `read` returns either one number
 * (no labels) or [labels, value] pairs. Totals only grow, so resetting and
 * setting the current value is exact.
 */
export function scrapedCounter(registry: Registry, name: string, help: string, labelNames: readonly string[], read: () => number | Labelled | undefined): Counter {
  return new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      const value = read();
      this.reset();
      if (value === undefined) return;
      if (typeof value === 'number') this.inc(value);
      else for (const [labels, v] of value) this.inc(labels, v);
    },
  });
}

/** A gauge computed at scrape time; labelled series not returned by `read` disappear. */
export function scrapedGauge(registry: Registry, name: string, help: string, labelNames: readonly string[], read: () => number | Labelled | undefined): Gauge {
  return new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      const value = read();
      this.reset();
      if (value === undefined) return;
      if (typeof value === 'number') this.set(value);
      else for (const [labels, v] of value) this.set(labels, v);
    },
  });
}
