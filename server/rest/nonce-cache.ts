// `enforce_nonce` on Create Message: a client that retries a post with the
// same nonce gets the message it already created instead of a second one.
// https://discord.com/developers/docs/resources/message#create-message-jsonform-params
// ("If true and nonce is present, it will be checked for uniqueness in the
// past few minutes. If another message was created by the same author with the
// same nonce, that message will be returned and no new message will be created.")
//
// Kept at the REST edge, in memory: (user, channel, nonce) -> the creation, in
// flight or finished, so concurrent duplicates share one creation. A creation
// that fails is forgotten at once (a retry must be able to succeed). Entries
// expire after `ttlMs`; there are at most `maxEntries` (the oldest go first).
// In-memory means per process: after a restart, or on another node, a retry
// creates again — the window Discord promises is minutes, not forever.

export interface NonceCacheOptions {
  /** Default 5 minutes. */
  ttlMs?: number;
  /** Default 10,000. */
  maxEntries?: number;
  /** Milliseconds; injectable for tests. */
  now?: () => number;
}

interface Entry<T> {
  result: Promise<T>;
  expiresAtMs: number;
}

export class NonceCache<T> {
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  // Every entry lives ttlMs, so insertion order is expiry order.
  private readonly entries = new Map<string, Entry<T>>();

  constructor(options: NonceCacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? 5 * 60_000;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /**
   * The result of `create` for this (user, channel, nonce): the first caller
   * runs it, callers within the window get the same result.
   */
  once(userId: string, channelId: string, nonce: string | number, create: () => Promise<T>): Promise<T> {
    const now = this.now();
    this.expire(now);
    // The type is part of the key: Discord keeps nonces as sent, and "1" is not 1.
    const key = `${userId}:${channelId}:${typeof nonce}:${nonce}`;
    const existing = this.entries.get(key);
    if (existing !== undefined) return existing.result;
    const result = create();
    const entry: Entry<T> = { result, expiresAtMs: now + this.ttlMs };
    this.entries.set(key, entry);
    result.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    return result;
  }

  get size(): number {
    return this.entries.size;
  }

  private expire(now: number): void {
    for (const [key, e] of this.entries) {
      if (e.expiresAtMs > now) break;
      this.entries.delete(key);
    }
  }
}
