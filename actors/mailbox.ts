// A bounded FIFO of entries waiting for one actor. Each entry records when it
// was enqueued and the depth it met, so time-in-mailbox is known for every
// handled message.

export type MessageOp = 'call' | 'cast' | 'info';

/**
 * What happens when a message arrives at a full mailbox:
 * - `reject`: the new message is refused (`cast`/`send` return false, `call` rejects
 *   with ACTOR_ERR_MAILBOX_FULL). The default: the sender learns at once.
 * - `drop-oldest`: the oldest waiting entry is evicted (a `call` among them rejects
 *   with ACTOR_ERR_MAILBOX_FULL) and the new one is accepted. For "latest wins" feeds.
 * - `stop`: the actor is stopped with reason `overflow`; it cannot keep up, and its
 *   owner (a session, say) reacts to the stop.
 */
export type OverflowPolicy = 'reject' | 'drop-oldest' | 'stop';

export interface PendingReply {
  resolve(value: unknown): void;
  reject(error: Error): void;
  /** True once resolved, rejected or timed out. */
  settled: boolean;
}

export interface MailboxEntry {
  readonly op: MessageOp;
  /** The message, bare or in an Envelope. */
  readonly payload: unknown;
  readonly enqueuedAt: number;
  /**
   * When handling began (same clock as enqueuedAt), set by the cell as it takes
   * the entry out: the one reading of the clock that wait, the actor top, the
   * process span and the tail check all share. 0 while waiting.
   */
  dequeuedAt: number;
  /** Entries already waiting when this one arrived. */
  readonly depth: number;
  readonly reply: PendingReply | undefined;
}

export const DEFAULT_MAILBOX_CAPACITY = 10_000;

// Storage is made on the first message and starts small: most actors (idle
// sessions) hold a handful of messages in their life, a few at a time.
const INITIAL_SLOTS = 4;
const NO_SLOTS: readonly (MailboxEntry | undefined)[] = [];

/** Ring buffer that grows by doubling up to `capacity`. */
export class Mailbox {
  private items = NO_SLOTS as (MailboxEntry | undefined)[];
  private head = 0;
  private count = 0;
  /** Entries evicted or refused because the mailbox was full. */
  dropped = 0;

  constructor(readonly capacity: number = DEFAULT_MAILBOX_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`mailbox capacity must be a positive integer, got ${capacity}`);
  }

  get depth(): number {
    return this.count;
  }

  get full(): boolean {
    return this.count >= this.capacity;
  }

  /** Appends; the caller has checked `full` and applied the overflow policy. */
  push(entry: MailboxEntry): void {
    if (this.count === this.items.length) this.grow();
    const items = this.items;
    // A compare instead of a modulus: every message passes here.
    let at = this.head + this.count;
    if (at >= items.length) at -= items.length;
    items[at] = entry;
    this.count++;
  }

  /** The oldest waiting entry, left in place (the actor top reads its age). */
  peek(): MailboxEntry | undefined {
    return this.count === 0 ? undefined : this.items[this.head];
  }

  shift(): MailboxEntry | undefined {
    if (this.count === 0) return undefined;
    const items = this.items;
    const head = this.head;
    const entry = items[head];
    items[head] = undefined;
    this.head = head + 1 === items.length ? 0 : head + 1;
    this.count--;
    return entry;
  }

  /** Removes and returns every entry (used when the actor stops). */
  drain(): MailboxEntry[] {
    const out: MailboxEntry[] = [];
    for (let e = this.shift(); e; e = this.shift()) out.push(e);
    return out;
  }

  private grow(): void {
    const size = Math.min(this.capacity, Math.max(INITIAL_SLOTS, this.items.length * 2));
    const next: (MailboxEntry | undefined)[] = new Array(size);
    for (let i = 0; i < this.count; i++) next[i] = this.items[(this.head + i) % this.items.length];
    this.items = next;
    this.head = 0;
  }
}
