// Latency histograms (HDR: constant relative error, any range) kept in
// microseconds and reported in milliseconds. They cross worker boundaries in
// HDR's compressed base64 form and merge by addition, so percentiles are exact
// over every session, not averages of per-thread percentiles.
import * as hdr from 'hdr-histogram-js';

/** Percentiles every report shows, in ms. */
export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export const SUMMARY_STATS = ['count', 'mean', 'p50', 'p90', 'p99', 'p999', 'max'] as const;
export type SummaryStat = (typeof SUMMARY_STATS)[number];

const HIGHEST_US = 3_600_000_000; // one hour: nothing in a run takes longer

function fresh(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_US, numberOfSignificantValueDigits: 3 });
}

export class LatencyHistogram {
  private h: hdr.Histogram = fresh();

  /** Records one latency in milliseconds (negative clock noise counts as 0). */
  record(ms: number): void {
    const us = Math.round(ms * 1000);
    this.h.recordValue(Math.min(HIGHEST_US, Math.max(1, us)));
  }

  get count(): number {
    return this.h.totalCount;
  }

  merge(other: LatencyHistogram): void {
    this.h.add(other.h);
  }

  encode(): string {
    return hdr.encodeIntoCompressedBase64(this.h);
  }

  static decode(encoded: string): LatencyHistogram {
    const out = new LatencyHistogram();
    out.h.add(hdr.decodeFromCompressedBase64(encoded));
    return out;
  }

  summary(): LatencySummary {
    const h = this.h;
    const ms = (us: number) => Math.round(us) / 1000;
    if (h.totalCount === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
    return {
      count: h.totalCount,
      mean: Math.round(h.mean) / 1000,
      p50: ms(h.getValueAtPercentile(50)),
      p90: ms(h.getValueAtPercentile(90)),
      p99: ms(h.getValueAtPercentile(99)),
      p999: ms(h.getValueAtPercentile(99.9)),
      max: ms(h.maxValue),
    };
  }
}

/** Histograms by name (`fanout`, `ready`, `guild_create.hot`...), created on first use. */
export class HistogramSet {
  private readonly byName = new Map<string, LatencyHistogram>();

  get(name: string): LatencyHistogram {
    let h = this.byName.get(name);
    if (!h) this.byName.set(name, (h = new LatencyHistogram()));
    return h;
  }

  record(name: string, ms: number): void {
    this.get(name).record(ms);
  }

  /** Forgets everything recorded (between benchmark bursts). */
  clear(): void {
    this.byName.clear();
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  merge(other: HistogramSet): void {
    for (const [name, h] of other.byName) this.get(name).merge(h);
  }

  encode(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, h] of this.byName) if (h.count > 0) out[name] = h.encode();
    return out;
  }

  static decode(encoded: Record<string, string>): HistogramSet {
    const set = new HistogramSet();
    for (const [name, text] of Object.entries(encoded)) set.byName.set(name, LatencyHistogram.decode(text));
    return set;
  }

  summaries(): Record<string, LatencySummary> {
    const out: Record<string, LatencySummary> = {};
    for (const name of [...this.byName.keys()].sort()) out[name] = this.byName.get(name)!.summary();
    return out;
  }
}
