// Runs actors that have work, a bounded batch each, round robin, and yields to
// the event loop after each time slice so that timers and socket reads are
// served while one actor holds a flood of messages.
import { AsyncResource } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';

export interface Runnable {
  /** Handles up to `max` messages; returns true if it has more ready to run now. */
  runSlice(max: number): boolean;
}

export interface SchedulerOptions {
  /** Milliseconds of handling before yielding to I/O. */
  sliceMs?: number;
  /** Messages one actor may handle before the next actor gets a turn. */
  batch?: number;
}

export class Scheduler {
  private queue: Runnable[] = [];
  private head = 0;
  private scheduled = false;
  private readonly sliceMs: number;
  private readonly batch: number;
  // Drains are always scheduled from the context the system was created in, so
  // a handler never inherits the async context of whoever woke the scheduler.
  private readonly scope = new AsyncResource('guildhall.actors.scheduler');

  constructor(options: SchedulerOptions = {}) {
    this.sliceMs = options.sliceMs ?? 5;
    this.batch = options.batch ?? 64;
  }

  enqueue(r: Runnable): void {
    this.queue.push(r);
    if (!this.scheduled) {
      this.scheduled = true;
      this.scope.runInAsyncScope(setImmediate, undefined, this.drain);
    }
  }

  get pending(): number {
    return this.queue.length - this.head;
  }

  private readonly drain = (): void => {
    const deadline = performance.now() + this.sliceMs;
    while (this.head < this.queue.length) {
      const r = this.queue[this.head++]!;
      if (r.runSlice(this.batch)) this.queue.push(r);
      if (performance.now() >= deadline) break;
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
      this.scheduled = false;
    } else {
      if (this.head > 1024) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      setImmediate(this.drain);
    }
  };
}
