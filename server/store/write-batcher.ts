// Group commit: guild actors hand their writes here in order, and whatever has
// queued goes to the database in one transaction. A commit costs about the
// same for one row as for a hundred (the fsync dominates), so under load the
// cost per write falls as batches grow, and at rest a lone write still goes
// out at once. "At once" is the end of the task that submitted it (a
// microtask), not the next turn of the event loop: guild actors submit from
// the scheduler's drain, one task that runs every actor with mail, so the
// writes of all requests read in one I/O turn still share a commit, and the
// commit does not wait behind the next turn's socket reads (a setImmediate
// queued from the drain, itself an immediate, ran only after the next poll
// phase: one more turn of queueing in every acknowledgement). One transaction
// is in flight at a time; writes that arrive during it form the next batch.
// Each write's promise settles only after the commit that holds it is
// durable: callers acknowledge and broadcast from there.
//
// Bounded: past `maxQueued` waiting writes, `submit` refuses at once with
// UNAVAILABLE (the REST edge answers 503 with Retry-After) instead of growing.
import type { Span } from '@opentelemetry/api';
import type { CommitSpans } from '../../tracing/index.js';
import { StoreError } from './errors.js';
import type { GuildWrite, Store, WriteOutcome } from './store.js';

export interface WriteBatcherOptions {
  store: Pick<Store, 'applyWrites'>;
  /** Writes per transaction at most (default 500). */
  maxBatch?: number;
  /** Writes waiting (not yet in a transaction) at most, before `submit` refuses (default 20,000). */
  maxQueued?: number;
  /** Spans for writes made under a sampled trace. */
  spans?: CommitSpans;
  /** Told of every commit attempt: its size, how long it took (ms), and whether it committed. */
  onCommit?: (size: number, ms: number, ok: boolean) => void;
  /** Monotonic milliseconds, for commit durations. */
  now?: () => number;
}

interface Pending {
  write: GuildWrite;
  span: Span | undefined;
  resolve(outcome: WriteOutcome): void;
  reject(error: unknown): void;
}

export class WriteBatcher {
  private readonly store: Pick<Store, 'applyWrites'>;
  private readonly maxBatch: number;
  private readonly maxQueued: number;
  private readonly spans: CommitSpans | undefined;
  private readonly onCommit: WriteBatcherOptions['onCommit'];
  private readonly now: () => number;
  private queue: Pending[] = [];
  private flushing = false;
  private scheduled = false;
  private idle: (() => void)[] = [];
  /** Writes refused because the queue was full. */
  refused = 0;

  constructor(options: WriteBatcherOptions) {
    this.store = options.store;
    this.maxBatch = options.maxBatch ?? 500;
    this.maxQueued = options.maxQueued ?? 20_000;
    this.spans = options.spans;
    this.onCommit = options.onCommit;
    this.now = options.now ?? performance.now.bind(performance);
    if (!Number.isInteger(this.maxBatch) || this.maxBatch < 1) throw new RangeError('maxBatch must be a positive integer');
    if (!Number.isInteger(this.maxQueued) || this.maxQueued < 1) throw new RangeError('maxQueued must be a positive integer');
  }

  /** Writes waiting for a transaction. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * Queues one write; resolves with its outcome once committed. Rejects with
   * a StoreError when the batch could not be committed (nothing of it was).
   */
  submit(write: GuildWrite): Promise<WriteOutcome> {
    if (this.queue.length >= this.maxQueued) {
      this.refused++;
      return Promise.reject(new StoreError('UNAVAILABLE', `${this.queue.length} writes are waiting for the database`));
    }
    return new Promise<WriteOutcome>((resolve, reject) => {
      this.queue.push({ write, span: this.spans?.begin(write.kind), resolve, reject });
      if (!this.flushing && !this.scheduled) {
        this.scheduled = true;
        queueMicrotask(this.flush);
      }
    });
  }

  /** Resolves once every write submitted so far has been committed or failed. */
  drained(): Promise<void> {
    if (!this.flushing && !this.scheduled && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private readonly flush = async (): Promise<void> => {
    this.scheduled = false;
    this.flushing = true;
    while (this.queue.length > 0) {
      const batch = this.queue.length <= this.maxBatch ? this.queue : this.queue.slice(0, this.maxBatch);
      this.queue = batch === this.queue ? [] : this.queue.slice(this.maxBatch);
      await this.commit(batch);
    }
    this.flushing = false;
    for (const resolve of this.idle.splice(0)) resolve();
  };

  private async commit(batch: Pending[]): Promise<void> {
    const startedAt = Date.now();
    const t0 = this.now();
    let outcomes: WriteOutcome[] | undefined;
    let error: unknown;
    try {
      outcomes = await this.store.applyWrites(batch.map((p) => p.write));
      if (outcomes.length !== batch.length) throw new Error(`applyWrites answered ${outcomes.length} outcomes for ${batch.length} writes`);
    } catch (err) {
      error = err;
      outcomes = undefined;
    }
    this.onCommit?.(batch.length, this.now() - t0, outcomes !== undefined);
    if (this.spans !== undefined) {
      const sampled: Span[] = [];
      for (const p of batch) if (p.span !== undefined) sampled.push(p.span);
      this.spans.committed(sampled, batch.length, startedAt, error);
    }
    // Settled in submission order: callers' continuations (replies, broadcasts) keep it.
    if (outcomes === undefined) {
      const failure = error instanceof StoreError ? error : new StoreError('UNAVAILABLE', 'the write could not be committed', { cause: error });
      for (const p of batch) p.reject(failure);
    } else {
      for (let i = 0; i < batch.length; i++) batch[i]!.resolve(outcomes[i]!);
    }
  }
}
