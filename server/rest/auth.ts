// Authentication and the global rate limit for REST routes.
//
// Tokens: `Authorization: Bot <token>`, `Bearer <token>` or the bare token
// (https://discord.com/developers/docs/reference#authentication). They verify
// without a lookup (auth/token.ts); the user must still exist (a token signed
// with a shared secret may name a user another database never had), looked up
// through a cache (user-cache.ts): users never change once created.
//
// Rate limits, both decided here from the headers and the route, before any
// body is read:
// - Discord's global limit, 50 requests per second per user
//   (https://discord.com/developers/docs/topics/rate-limits#global-rate-limit),
//   as a token bucket per user (RateLimiter below);
// - the route's bucket (route-limits.ts), whose X-RateLimit-* headers go on
//   every response, errors included.
// A 429 carries `retry_after` and `global` in the body and `Retry-After` and
// `X-RateLimit-Scope` (plus `X-RateLimit-Global` for the global limit) as
// headers, which is what @discordjs/rest reads to back off.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { VerifiedTokens } from '../auth/token-cache.js';
import type { ServerContext } from '../context.js';
import { httpError, rateLimited } from '../errors.js';
import { type RouteLimiter, majorParameter, rateLimitHeaders } from './route-limits.js';
import type { UserRecord } from '../store/store.js';
import { UserCache } from './user-cache.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated user's id ('' before the auth hook ran). */
    userId: string;
    /** The authenticated user; null before the auth hook ran. */
    user: UserRecord | null;
  }
  interface FastifyContextConfig {
    /** `false` for the few routes anyone may call (GET /gateway, POST /dev/users). */
    auth?: boolean;
  }
}

export interface RateLimiterOptions {
  /** Tokens added per second (and the bucket size: a full second of burst). Default 50. */
  perSecond?: number;
  /** Buckets kept at most; the least recently used go first. Default 10,000. */
  maxBuckets?: number;
  /** Milliseconds; injectable for tests. */
  now?: () => number;
}

interface Bucket {
  readonly key: string;
  tokens: number;
  updatedMs: number;
  /** The recency list: the bucket used just before this one, and just after. */
  older: Bucket | undefined;
  newer: Bucket | undefined;
}

/**
 * One token bucket per key. Memory stays bounded: a bucket that has refilled
 * completely is the same as no bucket, so those are swept; and past
 * `maxBuckets` the least recently used are dropped.
 *
 * A bucket is updated in place and moved to the newest end of a list linked
 * through the buckets themselves, so a request by a known key allocates
 * nothing. (A fresh bucket per request, re-inserted into the Map to keep its
 * order, lived until the key's next request: longer than a young-generation
 * collection for anyone not posting many times a second, so each was copied
 * into the old generation, and the Map's table, filled with deleted entries,
 * was rebuilt every few thousand requests.)
 */
export class RateLimiter {
  readonly perSecond: number;
  private readonly maxBuckets: number;
  private readonly now: () => number;
  private readonly buckets = new Map<string, Bucket>();
  /** Least and most recently used. */
  private oldest: Bucket | undefined;
  private newest: Bucket | undefined;
  private lastSweepMs: number;

  constructor(options: RateLimiterOptions = {}) {
    this.perSecond = options.perSecond ?? 50;
    this.maxBuckets = options.maxBuckets ?? 10_000;
    this.now = options.now ?? Date.now;
    if (!(this.perSecond > 0) || !Number.isInteger(this.maxBuckets) || this.maxBuckets < 1) {
      throw new RangeError('perSecond must be positive and maxBuckets a positive integer');
    }
    this.lastSweepMs = this.now();
  }

  /** Takes a token for `key`: 0 when allowed, else the seconds until one is available. */
  take(key: string): number {
    const now = this.now();
    let bucket = this.buckets.get(key);
    let tokens = this.perSecond;
    if (bucket !== undefined) {
      tokens = Math.min(this.perSecond, bucket.tokens + ((now - bucket.updatedMs) / 1000) * this.perSecond);
      this.unlink(bucket);
    } else {
      bucket = { key, tokens, updatedMs: now, older: undefined, newer: undefined };
      this.buckets.set(key, bucket);
    }
    let wait = 0;
    if (tokens >= 1) tokens -= 1;
    else wait = (1 - tokens) / this.perSecond;
    bucket.tokens = tokens;
    bucket.updatedMs = now;
    this.append(bucket);
    this.evict(now);
    return wait;
  }

  get size(): number {
    return this.buckets.size;
  }

  /** The keys from least to most recently used (for tests). */
  keys(): string[] {
    const out: string[] = [];
    for (let b = this.oldest; b !== undefined; b = b.newer) out.push(b.key);
    return out;
  }

  private unlink(b: Bucket): void {
    if (b.older === undefined) this.oldest = b.newer;
    else b.older.newer = b.newer;
    if (b.newer === undefined) this.newest = b.older;
    else b.newer.older = b.older;
    b.older = b.newer = undefined;
  }

  private append(b: Bucket): void {
    b.older = this.newest;
    if (this.newest === undefined) this.oldest = b;
    else this.newest.newer = b;
    this.newest = b;
  }

  private drop(b: Bucket): void {
    this.unlink(b);
    this.buckets.delete(b.key);
  }

  private evict(now: number): void {
    // A bucket idle for a full refill period is full again: dropping it changes nothing.
    const refillMs = 1000;
    if (now - this.lastSweepMs >= refillMs) {
      this.lastSweepMs = now;
      // Least recently used first: past the first one still in use, the rest are younger.
      while (this.oldest !== undefined && now - this.oldest.updatedMs >= refillMs) this.drop(this.oldest);
    }
    while (this.buckets.size > this.maxBuckets) this.drop(this.oldest!);
  }
}

/**
 * Decorates requests and authenticates every route of `scope` in an onRequest
 * hook: from the headers alone, before a byte of the body is read, so a
 * client that is refused never gets to make the server wait for a body.
 */
export function registerAuth(scope: FastifyInstance, ctx: ServerContext, limits: RestLimits): void {
  scope.decorateRequest('userId', '');
  scope.decorateRequest('user', null);
  scope.addHook('onRequest', authHook(ctx, limits));
}

export interface RestLimits {
  /** Per user, every route. */
  global: RateLimiter;
  /** Per user, route and major parameter. */
  routes: RouteLimiter;
  /** The scope's prefix (/api/v10), cut from route patterns to name buckets. */
  prefix: string;
}

/**
 * Counts the request in its route bucket and puts the bucket's headers on the
 * reply (they stay on whatever the answer turns out to be); 429 when it is spent.
 */
function takeRouteBucket(request: FastifyRequest, reply: FastifyReply, limits: RestLimits, who: string): void {
  if (!limits.routes.enabled) return;
  const route = `${request.method} ${request.routeOptions.url?.slice(limits.prefix.length) ?? ''}`;
  const state = limits.routes.take(route, majorParameter(request.params), who);
  reply.headers(rateLimitHeaders(state));
  if (!state.allowed) throw rateLimited(Math.ceil(state.resetAfterMs) / 1000, false);
}

/** Whether the client announced a body (which is unread when this is asked in onRequest). */
function announcesBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return (length !== undefined && length !== '0') || request.headers['transfer-encoding'] !== undefined;
}

/** The onRequest hook for authenticated routes: sets `request.userId` and `request.user`, or answers 401 / 429. */
export function authHook(ctx: ServerContext, limits: RestLimits) {
  const users = new UserCache(ctx.store);
  const tokens = new VerifiedTokens(() => ctx.config.tokenSecret);
  async function authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (request.routeOptions.config.auth === false) {
      // No user to count for: the caller's address stands in.
      takeRouteBucket(request, reply, limits, `ip:${request.ip}`);
      return;
    }
    const userId = tokens.verifyHeader(request.headers.authorization);
    const user = userId === undefined ? undefined : await users.get(userId);
    if (userId === undefined || user === undefined) throw httpError('UNAUTHORIZED');

    const wait = limits.global.take(userId);
    // The error handler adds the Retry-After / X-RateLimit-Global / -Scope headers of every 429.
    if (wait > 0) throw rateLimited(Math.ceil(wait * 1000) / 1000, true);
    takeRouteBucket(request, reply, limits, userId);
    request.userId = userId;
    request.user = user;
  }
  return async function authenticateOrRefuse(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    try {
      await authenticate(request, reply);
    } catch (err) {
      // Node would otherwise read (and discard) the announced body to keep the connection:
      // a refused client (401, 429) gets the answer and the connection ends instead.
      if (announcesBody(request)) reply.header('connection', 'close');
      throw err;
    }
  };
}
