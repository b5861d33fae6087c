// Discord's identify concurrency: a user (a bot, on Discord) may start at most
// `max_concurrency` sessions per 5 seconds in each rate-limit bucket, the
// bucket of a session being shard_id % max_concurrency. Past it Discord answers
// IDENTIFY with Invalid Session (op 9), and the client waits and tries again.
// https://discord.com/developers/docs/events/gateway#identifying
// https://discord.com/developers/docs/events/gateway#session-start-limit-object
//
// Discord lets each bucket start one session per window; here a bucket admits
// max_concurrency, so that a user's unsharded sessions (all shard 0, one
// bucket) may open several at once, as a person with a few devices does. A
// client that paces itself by Discord's rule is never refused.
import type { Clock } from '../../actors/index.js';

/** Discord's identify window. */
export const IDENTIFY_WINDOW_MS = 5_000;

interface Bucket {
  /** When the window that started with the bucket's first IDENTIFY ends. */
  resetAt: number;
  started: number;
}

export class IdentifyLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private nextSweep = 0;

  constructor(
    private readonly maxConcurrency: number,
    private readonly clock: Clock,
    private readonly windowMs = IDENTIFY_WINDOW_MS,
  ) {}

  /** Counts an IDENTIFY of `userId` on `shardId`; false when its bucket is full for this window. */
  tryStart(userId: string, shardId: number): boolean {
    const now = this.clock.now();
    this.sweep(now);
    const key = `${userId}:${shardId % this.maxConcurrency}`;
    let bucket = this.buckets.get(key);
    if (!bucket || bucket.resetAt <= now) {
      bucket = { resetAt: now + this.windowMs, started: 0 };
      this.buckets.set(key, bucket);
    }
    if (bucket.started >= this.maxConcurrency) return false;
    bucket.started++;
    return true;
  }

  /** Buckets held (expired ones go at the next sweep, at most a window later). */
  get size(): number {
    return this.buckets.size;
  }

  // Expired buckets are dropped once per window, so memory follows recent IDENTIFYs, not all users ever seen.
  private sweep(now: number): void {
    if (now < this.nextSweep) return;
    this.nextSweep = now + this.windowMs;
    for (const [key, bucket] of this.buckets) if (bucket.resetAt <= now) this.buckets.delete(key);
  }
}
