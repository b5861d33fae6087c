// One actor's load over the last minute, for the actor "top" (/debug/actors,
// after Erlang's observer and recon): messages handled, a coarse histogram
// of mailbox waits and the time spent handling (Erlang's reductions stand-in:
// what an actor costs, where a rate only counts messages), in a few fixed
// time buckets. A bucket's cells are made when a message first lands in it
// (most actors are idle: a session that handled its IDENTIFY keeps one bucket,
// not four); a handled message costs a comparison (is the bucket over?), a
// short bin search and two number writes. Nothing reads it until a page asks.
//
// The minute's sums say what an actor cost; "busy now" says what it costs
// right now (recon's proc_window, without sampling twice): handling time that
// halves every second, so work done while the actor was set up fades within
// seconds instead of outranking the actor that is busy now for a minute.

/** Time buckets in the window; the window is LOAD_BUCKETS * LOAD_BUCKET_MS long. */
export const LOAD_BUCKETS = 4;
export const LOAD_BUCKET_MS = 15_000;
export const LOAD_WINDOW_MS = LOAD_BUCKETS * LOAD_BUCKET_MS;
/** Upper bounds (ms) of the wait bins; one more bin holds everything above the last. */
export const WAIT_BIN_BOUNDS_MS: readonly number[] = [0.25, 1, 4, 16, 64, 256, 1024, 4096];
const BINS = WAIT_BIN_BOUNDS_MS.length + 1;
/** Per bucket: the bins, then the longest wait seen, then the ms spent handling. */
const MAX_WAIT = BINS;
const BUSY = BINS + 1;
const STRIDE = BINS + 2;
/**
 * "Busy now" halves at every multiple of this (the clock's own grid, the same
 * for every actor, so two rows compare at any instant).
 */
export const NOW_HALF_LIFE_MS = 1000;

export interface LoadSnapshot {
  /** Messages handled in the window. */
  handled: number;
  /** handled / seconds covered (the window, or the actor's life when shorter). */
  perSecond: number;
  /**
   * 99th percentile of mailbox wait in the window, in ms: the upper bound of
   * the bin it falls in, capped by the longest wait seen (so a lone 300 ms
   * wait reads 300, not 1024). 0 when nothing was handled.
   */
  waitP99Ms: number;
  /**
   * Milliseconds spent handling messages in the window: what the actor cost,
   * as a process's CPU time in top. An absolute sum, so a young actor with an
   * expensive first message does not outrank one that has worked all minute.
   */
  busyMs: number;
  /**
   * Milliseconds of handling per second right now: each second before the
   * current one counts half as much as the one after it. Exact for a steady
   * load (the decayed sum divided by 1 + the part of the current second gone).
   */
  busyNow: number;
}

export class ActorLoad {
  // Plain arrays of doubles, one per bucket that saw a message: on the JS heap,
  // without the ArrayBuffer, backing store and typed-array object a
  // Float64Array costs every actor.
  private readonly buckets: (number[] | undefined)[] = new Array<number[] | undefined>(LOAD_BUCKETS);
  /** Index of the current bucket. */
  private at = 0;
  private bucketEnd: number;
  private readonly born: number;
  /** Handling time, halved at each NOW_HALF_LIFE_MS grid point passed (lazily, when next touched). */
  private recent = 0;
  private halveAt: number;

  constructor(now: number) {
    this.born = now;
    // A whole number of ms (the bucket ends up to 1 ms late): V8 then keeps it in the object as a
    // small integer, where a fractional one is a separate number box every handled message reads.
    this.bucketEnd = Math.ceil(now) + LOAD_BUCKET_MS;
    this.halveAt = nextGridPoint(now);
  }

  private current(): number[] {
    return (this.buckets[this.at] ??= new Array<number>(STRIDE).fill(0));
  }

  /** One handled message that waited `waitMs`; `now` is the clock reading it was taken out at. */
  record(now: number, waitMs: number): void {
    if (now >= this.bucketEnd) this.rotate(now);
    const b = WAIT_BIN_BOUNDS_MS;
    let i = 0;
    while (i < BINS - 1 && waitMs > b[i]!) i++;
    const cells = this.current();
    cells[i]!++;
    if (waitMs > cells[MAX_WAIT]!) cells[MAX_WAIT] = waitMs;
  }

  /** Time spent handling a run of messages that ended at `now` (one reading per scheduler slice). */
  busy(now: number, ms: number): void {
    if (now >= this.bucketEnd) this.rotate(now);
    this.current()[BUSY]! += ms;
    if (now >= this.halveAt) this.recent = this.decayed(now);
    this.recent += ms;
  }

  /** `recent` as of `now`, and the grid point after `now` becomes the next halving. */
  private decayed(now: number): number {
    if (now < this.halveAt) return this.recent;
    const halvings = Math.floor((now - this.halveAt) / NOW_HALF_LIFE_MS) + 1;
    this.halveAt += halvings * NOW_HALF_LIFE_MS;
    // Past 60 halvings nothing is left of a double's precision anyway.
    return halvings > 60 ? 0 : this.recent / 2 ** halvings;
  }

  snapshot(now: number): LoadSnapshot {
    if (now >= this.bucketEnd) this.rotate(now);
    const perBin = new Float64Array(BINS);
    let handled = 0;
    let max = 0;
    let busyMs = 0;
    for (const cells of this.buckets) {
      if (cells === undefined) continue;
      for (let i = 0; i < BINS; i++) {
        perBin[i]! += cells[i]!;
        handled += cells[i]!;
      }
      if (cells[MAX_WAIT]! > max) max = cells[MAX_WAIT]!;
      busyMs += cells[BUSY]!;
    }
    // The current bucket is partly over; the older ones are whole.
    const covered = Math.min(LOAD_WINDOW_MS - (this.bucketEnd - now), now - this.born);
    const seconds = Math.max(covered, 1) / 1000;
    let waitP99Ms = 0;
    if (handled > 0) {
      const rank = Math.ceil(handled * 0.99);
      let seen = 0;
      for (let i = 0; i < BINS; i++) {
        seen += perBin[i]!;
        if (seen >= rank) {
          waitP99Ms = Math.min(i < BINS - 1 ? WAIT_BIN_BOUNDS_MS[i]! : max, max);
          break;
        }
      }
    }
    this.recent = this.decayed(now);
    const intoSecond = 1 - (this.halveAt - now) / NOW_HALF_LIFE_MS;
    return { handled, perSecond: handled / seconds, waitP99Ms, busyMs, busyNow: this.recent / (1 + intoSecond) };
  }

  /** Moves to the bucket that holds `now`, clearing the ones skipped (all of them after a quiet minute). */
  private rotate(now: number): void {
    const steps = Math.min(LOAD_BUCKETS, Math.floor((now - this.bucketEnd) / LOAD_BUCKET_MS) + 1);
    for (let s = 0; s < steps; s++) {
      this.at = (this.at + 1) % LOAD_BUCKETS;
      this.buckets[this.at] = undefined;
    }
    this.bucketEnd += Math.floor((now - this.bucketEnd) / LOAD_BUCKET_MS + 1) * LOAD_BUCKET_MS;
  }
}

function nextGridPoint(now: number): number {
  return (Math.floor(now / NOW_HALF_LIFE_MS) + 1) * NOW_HALF_LIFE_MS;
}
