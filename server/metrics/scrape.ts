// Metrics whose values are read at scrape time from counters the server keeps
// anyway (plain integers, stats() objects). Nothing is updated on the hot path
// for them: prom-client calls collect() just before it renders the text.
import { Counter, Gauge, type Registry } from 'prom-client';

export type Labelled = Iterable<readonly [Record<string, string | number>, number]>;

type Read = () => number | Labelled | undefined;

/** The collect() both kinds share: reset, then write what `read` says now. */
function collector<M extends Counter | Gauge>(read: Read, write: (metric: M, labels: Record<string, string | number> | undefined, value: number) => void) {
  return function collect(this: M): void {
    const value = read();
    this.reset();
    if (value === undefined) return;
    if (typeof value === 'number') write(this, undefined, value);
    else for (const [labels, v] of value) write(this, labels, v);
  };
}

/**
 * A counter mirrored from a running total. `read` returns either one number
 * (no labels) or [labels, value] pairs. Totals only grow, so resetting and
 * setting the current value is exact.
 */
export function scrapedCounter(registry: Registry, name: string, help: string, labelNames: readonly string[], read: Read): Counter {
  return new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect: collector<Counter>(read, (m, labels, v) => (labels ? m.inc(labels, v) : m.inc(v))),
  });
}

/** A gauge computed at scrape time; labelled series not returned by `read` disappear. */
export function scrapedGauge(registry: Registry, name: string, help: string, labelNames: readonly string[], read: Read): Gauge {
  return new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect: collector<Gauge>(read, (m, labels, v) => (labels ? m.set(labels, v) : m.set(v))),
  });
}
