// Runs actors that have work, a bounded batch each, round robin, and yields to
// the event loop after each time slice so that timers and socket reads are
// served while one actor holds a flood of messages.
import { AsyncResource } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';

export interface Runnable {
  /** Handles up to `max` messages; returns how many it handled. */
  runSlice(max: number): number;
  /** True when it has more messages ready to handle now. */
  readonly ready: boolean;
}

const CLOCK_EVERY = 16;

// Drains are always scheduled from this resource, made when the module loads
// (before any request or span exists), so a handler never inherits the async
// context of whoever woke the scheduler: AsyncLocalStorage stores propagate
// through setImmediate, and that is the classic mis-parenting trap.
const CLEAN_SCOPE = new AsyncResource('guildhall.actors.scheduler');

export interface SchedulerOptions {
  /** Milliseconds of handling before yielding to I/O. */
  sliceMs?: number;
  /** Messages one actor may handle before the next actor gets a turn. */
  batch?: number;
}

export class Scheduler {
  /**
   * The actors' clock as the slice that just ended read it, for the next
   * slice of the same drain to take as its first message's dequeue time
   * (nothing runs between the two but this loop): one reading per slice
   * boundary instead of two. NaN when there is none to take: a drain's start,
   * or after something ran that took time of its own (an actor's init, a
   * slow-message report). Set and taken by ActorCell.
   */
  reading = NaN;
  /**
   * Runnables from `head` to `tail`. The array is kept between drains, at the
   * largest size a drain needed: a broadcast queues every recipient, and
   * growing a fresh array to that size on every drain cost more allocation
   * per delivery than the delivery's own mailbox entry. Slots are cleared as
   * they are taken, so an idle actor is not held.
   */
  private readonly queue: (Runnable | undefined)[] = [];
  private head = 0;
  private tail = 0;
  private scheduled = false;
  private readonly sliceMs: number;
  private readonly batch: number;

  constructor(options: SchedulerOptions = {}) {
    this.sliceMs = options.sliceMs ?? 5;
    this.batch = options.batch ?? 64;
  }

  enqueue(r: Runnable): void {
    this.queue[this.tail++] = r;
    if (!this.scheduled) {
      this.scheduled = true;
      CLEAN_SCOPE.runInAsyncScope(setImmediate, undefined, this.drain);
    }
  }

  get pending(): number {
    return this.tail - this.head;
  }

  private readonly drain = (): void => {
    this.reading = NaN;
    const deadline = performance.now() + this.sliceMs;
    // Reading the clock costs about as much as a small handler, so it is read
    // once per CLOCK_EVERY handled messages: a slice overshoots by at most that many.
    let sinceCheck = 0;
    const queue = this.queue;
    while (this.head < this.tail) {
      const r = queue[this.head]!;
      queue[this.head++] = undefined;
      sinceCheck += r.runSlice(this.batch);
      if (r.ready) queue[this.tail++] = r;
      if (sinceCheck >= CLOCK_EVERY) {
        sinceCheck = 0;
        if (performance.now() >= deadline) break;
      }
    }
    this.reading = NaN;
    if (this.head === this.tail) {
      this.head = 0;
      this.tail = 0;
      this.scheduled = false;
    } else {
      if (this.head > 1024) {
        // Move what is left to the front, so the array does not grow without bound.
        queue.copyWithin(0, this.head, this.tail);
        queue.fill(undefined, this.tail - this.head, this.tail);
        this.tail -= this.head;
        this.head = 0;
      }
      setImmediate(this.drain);
    }
  };
}
