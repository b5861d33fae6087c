// One actor's load over the last minute, for the actor "top" (/debug/actors,
// after Erlang's observer and recon): messages handled, a coarse histogram
// of mailbox waits and the time spent handling (Erlang's reductions stand-in:
// what an actor costs, where a rate only counts messages), in a few fixed
// time buckets. Fixed size and allocated once
// per actor; a handled message costs a comparison (is the bucket over?), a
// short bin search and two number writes. Nothing reads it until a page asks.

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
}

export class ActorLoad {
  // A plain array of doubles: on the JS heap, without the ArrayBuffer, its
  // backing store and the typed-array object a Float64Array costs every actor.
  private readonly cells: number[] = new Array<number>(LOAD_BUCKETS * STRIDE).fill(0);
  /** Offset of the current bucket in `cells`. */
  private at = 0;
  private bucketEnd: number;
  private readonly born: number;

  constructor(now: number) {
    this.born = now;
    this.bucketEnd = now + LOAD_BUCKET_MS;
  }

  /** One handled message that waited `waitMs`; `now` is the clock reading it was taken out at. */
  record(now: number, waitMs: number): void {
    if (now >= this.bucketEnd) this.rotate(now);
    const b = WAIT_BIN_BOUNDS_MS;
    let i = 0;
    while (i < BINS - 1 && waitMs > b[i]!) i++;
    const cells = this.cells;
    cells[this.at + i]!++;
    if (waitMs > cells[this.at + MAX_WAIT]!) cells[this.at + MAX_WAIT] = waitMs;
  }

  /** Time spent handling a run of messages that ended at `now` (one reading per scheduler slice). */
  busy(now: number, ms: number): void {
    if (now >= this.bucketEnd) this.rotate(now);
    this.cells[this.at + BUSY]! += ms;
  }

  snapshot(now: number): LoadSnapshot {
    if (now >= this.bucketEnd) this.rotate(now);
    const cells = this.cells;
    const perBin = new Float64Array(BINS);
    let handled = 0;
    let max = 0;
    let busyMs = 0;
    for (let k = 0; k < LOAD_BUCKETS; k++) {
      const base = k * STRIDE;
      for (let i = 0; i < BINS; i++) {
        perBin[i]! += cells[base + i]!;
        handled += cells[base + i]!;
      }
      if (cells[base + MAX_WAIT]! > max) max = cells[base + MAX_WAIT]!;
      busyMs += cells[base + BUSY]!;
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
    return { handled, perSecond: handled / seconds, waitP99Ms, busyMs };
  }

  /** Moves to the bucket that holds `now`, clearing the ones skipped (all of them after a quiet minute). */
  private rotate(now: number): void {
    const steps = Math.min(LOAD_BUCKETS, Math.floor((now - this.bucketEnd) / LOAD_BUCKET_MS) + 1);
    for (let s = 0; s < steps; s++) {
      this.at = (this.at + STRIDE) % this.cells.length;
      this.cells.fill(0, this.at, this.at + STRIDE);
    }
    this.bucketEnd += Math.floor((now - this.bucketEnd) / LOAD_BUCKET_MS + 1) * LOAD_BUCKET_MS;
  }
}
