// Mailbox entries used again once handled. Every delivery needs an entry, and
// a fresh one was three allocations (the object and, as V8 keeps double fields
// boxed, one heap number for each of its two times), made and dropped per
// delivery. A cell hands an entry back when it is done with it (after the tail
// check that follows its handling), and the next message anywhere takes it:
// its times are then written into the boxes it already has. The free list is
// shared by every cell of the process (an idle session keeps none) and
// bounded: a broadcast's worth of entries at most are kept.
//
// Hence the interceptor and slow-watcher contract (actors/relay.ts): an entry
// is valid during the call it is passed to; copy what is needed later.
import type { MailboxEntry, MessageOp, PendingReply } from './mailbox.js';

/** A mailbox entry as a cell makes it: writable, so that it can be used again. */
export class PooledEntry implements MailboxEntry {
  constructor(
    public op: MessageOp,
    public payload: unknown,
    public enqueuedAt: number,
    public dequeuedAt: number,
    public depth: number,
    public reply: PendingReply | undefined,
  ) {}
}

/** Entries kept for reuse at most (about 40 bytes each, with their two number boxes). */
export const MAX_FREE_ENTRIES = 8_192;

const free: PooledEntry[] = [];

/** An entry for a message enqueued now, used again if one is free. */
export function takeEntry(op: MessageOp, payload: unknown, enqueuedAt: number, depth: number, reply: PendingReply | undefined): PooledEntry {
  const entry = free.pop();
  if (entry === undefined) return new PooledEntry(op, payload, enqueuedAt, 0, depth, reply);
  entry.op = op;
  entry.payload = payload;
  entry.enqueuedAt = enqueuedAt;
  entry.dequeuedAt = 0;
  entry.depth = depth;
  entry.reply = reply;
  return entry;
}

/**
 * Hands back an entry nobody will read again (exactly once: an entry on the
 * free list twice would be given to two messages). Its message and reply are
 * let go at once, so a kept entry holds nothing alive.
 */
export function releaseEntry(entry: PooledEntry): void {
  if (free.length >= MAX_FREE_ENTRIES) return;
  entry.payload = undefined;
  entry.reply = undefined;
  free.push(entry);
}

/** Entries on the free list now (for tests). */
export function freeEntries(): number {
  return free.length;
}
