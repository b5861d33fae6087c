// `enforce_nonce` on Create Message: a client that retries a post with the
// same nonce gets the message it already created instead of a second one.
// https://discord.com/developers/docs/resources/message#create-message-jsonform-params
// ("If true and nonce is present, it will be checked for uniqueness in the
// past few minutes. If another message was created by the same author with the
// same nonce, that message will be returned and no new message will be created.")
//
// Kept by the guild's actor, the one writer of the guild's messages: a retry
// reaches the same memory whichever node's REST edge it lands on.
// (user, channel, nonce) -> in flight (repeats wait for the first) or
// committed (the message id; repeats read it back). A creation that fails is
// forgotten at once, so a retry can succeed. Entries expire after ttlMs (wall
// clock: they cross nodes); at most maxEntries per guild, the oldest go first.
// The nonce is stored with its message (messages.nonce, in the same row, so as
// durable as the acknowledgement): a guild starting anywhere (a restart, a
// failover after kill -9, a move, an idle stop) loads the window's entries
// back from the database (`load`), and a retry still returns the first message.

/** Discord's "past few minutes". */
export const NONCE_WINDOW_MS = 5 * 60_000;
/** Per guild: what a starting guild loads at most, and what it keeps. */
export const MAX_NONCES_PER_GUILD = 1_000;

export interface RecentNoncesOptions {
  /** Epoch milliseconds (the guild's wall clock). */
  now: () => number;
  /** Default NONCE_WINDOW_MS. */
  ttlMs?: number;
  /** Default MAX_NONCES_PER_GUILD. */
  maxEntries?: number;
}

/** A committed entry as loaded back: [key, channel id, message id, expires at (epoch ms)]. */
export type NonceRecord = [key: string, channelId: string, messageId: string, expiresAtMs: number];

export type Seen<W> = { state: 'pending'; waiters: W[] } | { state: 'committed'; channelId: string; messageId: string };

type Entry<W> = Seen<W> & { expiresAtMs: number };

export class RecentNonces<W> {
  private readonly now: () => number;
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  // Every entry lives ttlMs from its start, so insertion order is expiry order.
  private readonly entries = new Map<string, Entry<W>>();

  constructor(options: RecentNoncesOptions) {
    this.now = options.now;
    this.ttlMs = options.ttlMs ?? NONCE_WINDOW_MS;
    this.maxEntries = options.maxEntries ?? MAX_NONCES_PER_GUILD;
  }

  /** The nonce as stored (messages.nonce): its type is part of it, as Discord keeps nonces as sent and "1" is not 1. */
  static token(nonce: string | number): string {
    return `${typeof nonce}:${nonce}`;
  }

  /** `token` is the nonce's (RecentNonces.token). */
  static key(userId: string, channelId: string, token: string): string {
    return `${userId}:${channelId}:${token}`;
  }

  /** What a repeat of `key` meets: the first still in flight, or its committed message; undefined if new. */
  seen(key: string): Seen<W> | undefined {
    this.expire();
    const entry = this.entries.get(key);
    // One loaded behind a newer entry (a restarted actor kept its memory) is not swept by expire().
    if (entry?.state === 'committed' && entry.expiresAtMs <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** The first of `key`: repeats wait for it. */
  begin(key: string): void {
    this.put(key, { state: 'pending', waiters: [], expiresAtMs: this.now() + this.ttlMs });
  }

  /** The first of `key` committed: returns the repeats that waited, to be answered alike. */
  commit(key: string, channelId: string, messageId: string): W[] {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.state !== 'pending') return [];
    this.entries.set(key, { state: 'committed', channelId, messageId, expiresAtMs: entry.expiresAtMs });
    return entry.waiters;
  }

  /** The first of `key` failed: forgotten, so a retry creates; returns the repeats that waited. */
  fail(key: string): W[] {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.state !== 'pending') return [];
    this.entries.delete(key);
    return entry.waiters;
  }

  /**
   * Takes committed entries read back from the database (oldest first), keeping their expiry; an
   * entry already here (committed or in flight) stays as it is.
   */
  load(records: readonly NonceRecord[]): void {
    const now = this.now();
    for (const [key, channelId, messageId, expiresAtMs] of records) {
      if (this.entries.has(key)) continue;
      if (expiresAtMs > now && expiresAtMs <= now + this.ttlMs) this.put(key, { state: 'committed', channelId, messageId, expiresAtMs });
    }
  }

  get size(): number {
    return this.entries.size;
  }

  private put(key: string, entry: Entry<W>): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.entries.size <= this.maxEntries) return;
    // Oldest first; one in flight is never dropped (its waiters must be answered).
    for (const [k, e] of this.entries) {
      if (this.entries.size <= this.maxEntries) break;
      if (e.state === 'committed') this.entries.delete(k);
    }
  }

  private expire(): void {
    const now = this.now();
    for (const [key, e] of this.entries) {
      if (e.expiresAtMs > now) break;
      // One in flight stays until it settles: its waiters must be answered.
      if (e.state === 'pending') continue;
      this.entries.delete(key);
    }
  }
}
