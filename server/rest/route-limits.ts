// Per-route rate limits, keyed as Discord keys them, and the X-RateLimit-*
// headers that describe them on every response.
// https://discord.com/developers/docs/topics/rate-limits
//
// A bucket is a route (method + path pattern) and its major parameter (the
// channel or guild id in the path; Discord's third, the webhook, has no route
// here), per user: `POST /channels/1/messages` and `POST /channels/2/messages`
// are two buckets, each with its own budget. Each bucket is a fixed window, as
// Discord's: `limit` requests, then nothing until the window that began with
// the first of them is over. Client libraries (@discordjs/rest and the rest)
// plan from the headers: they queue what would exceed `Remaining` until `Reset`
// instead of collecting 429s.
//
// Memory is bounded: a bucket whose window is over is the same as no bucket
// and is swept, and past `maxBuckets` the least recently used go first.
import { createHash } from 'node:crypto';

export interface RouteLimit {
  /** Requests per window. */
  limit: number;
  windowMs: number;
}

/**
 * Route limits, by `METHOD /path/:pattern` (without /api/v10). Discord's known
 * values where it publishes them (messages: 5 per 5 s per channel; reactions:
 * 1 per 250 ms), otherwise `DEFAULT_ROUTE_LIMIT`.
 */
export const ROUTE_LIMITS: Readonly<Record<string, RouteLimit>> = {
  'POST /channels/:channel_id/messages': { limit: 5, windowMs: 5000 },
  'PATCH /channels/:channel_id/messages/:message_id': { limit: 5, windowMs: 5000 },
  'DELETE /channels/:channel_id/messages/:message_id': { limit: 5, windowMs: 1000 },
  'PUT /channels/:channel_id/messages/:message_id/reactions/:emoji/@me': { limit: 1, windowMs: 250 },
  'DELETE /channels/:channel_id/messages/:message_id/reactions/:emoji/@me': { limit: 1, windowMs: 250 },
  'POST /channels/:channel_id/typing': { limit: 5, windowMs: 5000 },
  'POST /guilds': { limit: 10, windowMs: 10_000 },
  'POST /guilds/:guild_id/channels': { limit: 5, windowMs: 5000 },
  'PUT /guilds/:guild_id/members/:user_id': { limit: 10, windowMs: 1000 },
  'DELETE /guilds/:guild_id/members/:user_id': { limit: 5, windowMs: 1000 },
};

/** Every other route: generous, the global limit (50/s) is what binds first. */
export const DEFAULT_ROUTE_LIMIT: RouteLimit = { limit: 50, windowMs: 1000 };

export interface RouteLimiterOptions {
  /** Replaces entries of ROUTE_LIMITS (tests use small windows). */
  routes?: Readonly<Record<string, RouteLimit>>;
  /** For routes without an entry. */
  defaultLimit?: RouteLimit;
  /** Off: no route buckets at all (the global limit still applies). */
  enabled?: boolean;
  maxBuckets?: number;
  /** Epoch milliseconds; injectable for tests. */
  now?: () => number;
}

/** What one request learned about its bucket: the headers' values, and whether it may go ahead. */
export interface BucketState {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Epoch milliseconds when the window ends. */
  resetAtMs: number;
  resetAfterMs: number;
  /** Discord's opaque bucket id: the same for every major parameter of a route. */
  bucket: string;
}

interface Window {
  used: number;
  resetAtMs: number;
}

/** The major parameter of a route, from its params: Discord's channel_id or guild_id. */
export function majorParameter(params: unknown): string {
  if (params === null || typeof params !== 'object') return '';
  const p = params as Record<string, unknown>;
  if (typeof p.channel_id === 'string') return p.channel_id;
  if (typeof p.guild_id === 'string') return p.guild_id;
  return '';
}

export class RouteLimiter {
  readonly enabled: boolean;
  private readonly routes: Readonly<Record<string, RouteLimit>>;
  private readonly defaultLimit: RouteLimit;
  private readonly maxBuckets: number;
  private readonly now: () => number;
  private readonly windows = new Map<string, Window>();
  private readonly hashes = new Map<string, string>();
  private lastSweepMs = 0;

  constructor(options: RouteLimiterOptions = {}) {
    this.enabled = options.enabled ?? true;
    this.routes = { ...ROUTE_LIMITS, ...options.routes };
    this.defaultLimit = options.defaultLimit ?? DEFAULT_ROUTE_LIMIT;
    this.maxBuckets = options.maxBuckets ?? 100_000;
    this.now = options.now ?? Date.now;
    for (const l of [this.defaultLimit, ...Object.values(this.routes)]) {
      if (!Number.isInteger(l.limit) || l.limit < 1 || !(l.windowMs > 0)) throw new RangeError('route limits need a positive integer limit and window');
    }
  }

  /** The limit of `route` (`METHOD /pattern`). */
  limitOf(route: string): RouteLimit {
    return this.routes[route] ?? this.defaultLimit;
  }

  /** Counts a request of `user` on `route` for `major`; `allowed` false means 429. */
  take(route: string, major: string, user: string): BucketState {
    const { limit, windowMs } = this.limitOf(route);
    const now = this.now();
    const key = `${user}\u0000${route}\u0000${major}`;
    let w = this.windows.get(key);
    if (w === undefined || now >= w.resetAtMs) w = { used: 0, resetAtMs: now + windowMs };
    else this.windows.delete(key); // re-inserted below: the Map's order is least recently used first
    const allowed = w.used < limit;
    if (allowed) w.used++;
    this.windows.set(key, w);
    this.evict(now);
    return { allowed, limit, remaining: limit - w.used, resetAtMs: w.resetAtMs, resetAfterMs: Math.max(0, w.resetAtMs - now), bucket: this.hashOf(route) };
  }

  get size(): number {
    return this.windows.size;
  }

  private hashOf(route: string): string {
    let hash = this.hashes.get(route);
    if (hash === undefined) {
      hash = createHash('sha256').update(route).digest('hex').slice(0, 16);
      this.hashes.set(route, hash);
    }
    return hash;
  }

  private evict(now: number): void {
    if (now - this.lastSweepMs >= 1000) {
      this.lastSweepMs = now;
      for (const [key, w] of this.windows) if (now >= w.resetAtMs) this.windows.delete(key);
    }
    while (this.windows.size > this.maxBuckets) this.windows.delete(this.windows.keys().next().value as string);
  }
}

/** The X-RateLimit-* headers of a bucket, as Discord writes them (seconds, with milliseconds). */
export function rateLimitHeaders(state: BucketState): Record<string, string> {
  return {
    'x-ratelimit-limit': String(state.limit),
    'x-ratelimit-remaining': String(state.remaining),
    'x-ratelimit-reset': (state.resetAtMs / 1000).toFixed(3),
    'x-ratelimit-reset-after': (state.resetAfterMs / 1000).toFixed(3),
    'x-ratelimit-bucket': state.bucket,
  };
}
