// The budget of tail capture: at most `perSecond` slow-message spans per
// second per process, as a token bucket (a burst of up to one second's worth,
// then the steady rate). Refused spans are counted, never queued: a server
// that is slow everywhere must not also build a backlog of spans about it.

export class TailLimiter {
  /** Spans allowed so far. */
  granted = 0;
  /** Spans refused for want of budget. */
  refused = 0;
  private tokens: number;
  private last: number | undefined;

  /** `now` readings are milliseconds on any monotonic clock (the actor system's). */
  constructor(readonly perSecond: number) {
    if (!(perSecond >= 0) || !Number.isFinite(perSecond)) throw new RangeError(`tail capture rate must be a finite number >= 0, got ${perSecond}`);
    this.tokens = perSecond;
  }

  /** True (and one token spent) when a span may be recorded at `now`. */
  take(now: number): boolean {
    if (this.last !== undefined && now > this.last) this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.last) * this.perSecond) / 1000);
    if (this.last === undefined || now > this.last) this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      this.granted++;
      return true;
    }
    this.refused++;
    return false;
  }
}
