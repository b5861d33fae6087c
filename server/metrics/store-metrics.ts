// What /metrics shows of the write path: one observation per commit (never
// per write), and the batcher's queue read at scrape time.
import type { Registry } from 'prom-client';
import { CheapHistogram, type HistogramCell } from './cheap-histogram.js';
import { scrapedCounter, scrapedGauge } from './scrape.js';

const COMMIT_SECONDS = [0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const BATCH_SIZES = [1, 2, 5, 10, 20, 50, 100, 200, 500];

export interface StoreMetricSources {
  /** Writes waiting for a transaction now. */
  queued: () => number;
  /** Writes refused because too many were waiting. */
  refused: () => number;
}

export class StoreMetrics {
  private readonly commitSeconds: HistogramCell;
  private readonly batchSize: HistogramCell;
  private failedCommits = 0;
  private committedWrites = 0;

  constructor(registry: Registry, sources: StoreMetricSources) {
    this.commitSeconds = new CheapHistogram(registry, 'guildhall_store_commit_duration_seconds', 'Group commits of guild writes, from the start of the transaction to its durable commit', COMMIT_SECONDS).cell();
    this.batchSize = new CheapHistogram(registry, 'guildhall_store_commit_batch_size', 'Writes per group commit', BATCH_SIZES).cell();
    scrapedCounter(registry, 'guildhall_store_writes_committed_total', 'Guild writes committed (messages, edits, deletes, reactions, members, channels)', [], () => this.committedWrites);
    scrapedCounter(registry, 'guildhall_store_commits_failed_total', 'Group commits that failed (their writes were answered 503, nothing of them was kept)', [], () => this.failedCommits);
    scrapedGauge(registry, 'guildhall_store_writes_queued', 'Guild writes waiting for the next group commit', [], sources.queued);
    scrapedCounter(registry, 'guildhall_store_writes_refused_total', 'Guild writes refused at once because too many were waiting for the database', [], sources.refused);
  }

  /** One commit attempt (the batcher's onCommit). */
  readonly commit = (size: number, ms: number, ok: boolean): void => {
    this.commitSeconds.observe(ms / 1000);
    this.batchSize.observe(size);
    if (ok) this.committedWrites += size;
    else this.failedCommits++;
  };
}
