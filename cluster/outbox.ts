// The remote router's outbox: what one node sends another within one run of
// the microtask queue (a scheduler slice, or the promise callbacks a commit
// resolves) leaves as one frame, its items in the order they were sent.
// A guild committing a batch of posts broadcasts them back to back: those
// broadcasts share one target list per node, which the frame names once (and
// defines only the first time it goes to that node: target-lists.ts),
// and the receiving node delivers every message to every target before its
// sessions run, so each session writes them in one socket write, as on the
// guild's own node.
//
// A frame is bounded (maxFrameBytes, counted in UTF-16 units of the texts:
// at most 3 bytes each, so a bound of 256 KiB stays under NATS's 1 MB max
// payload); an item that would pass it starts the next frame.
import type { SentLists } from './target-lists.js';
import { type WireTargets, frameBytes, sameTargets } from './wire.js';

export interface OutboxOptions {
  maxFrameBytes: number;
  /** The lists each node already holds from this one. */
  lists: SentLists;
  /** The header's sender fields (wire.ts originOf). */
  origin: string;
  publish(node: string, bytes: Uint8Array): void;
  /** A publish that threw at a flush (the connection closed): nobody is left to throw to. */
  onError(err: unknown, node: string): void;
}

interface Pending {
  items: string[];
  texts: string[];
  /** The target lists of the queued broadcasts, each once; listTexts[i] is lists[i]'s spec (a definition or a reference). */
  lists: WireTargets[];
  listTexts: string[];
  size: number;
}

/** Separators per item, on top of its JSON and its text. */
const ITEM_OVERHEAD = 2;
/** The header's own characters around the items and lists. */
const FRAME_OVERHEAD = 16;
/** At least the JSON of a broadcast's item. */
const BROADCAST_ITEM = 32;

export class Outbox {
  private readonly pending = new Map<string, Pending>();
  private scheduled = false;

  constructor(private readonly options: OutboxOptions) {}

  /** Queues an item (its JSON) and the message text that follows it, if any. */
  add(node: string, item: string, text: string | undefined): void {
    const size = item.length + ITEM_OVERHEAD + (text === undefined ? 0 : text.length);
    const p = this.room(node, size);
    p.items.push(item);
    if (text !== undefined) p.texts.push(text);
    p.size += size;
    this.queued(node, p);
  }

  /** Queues an untraced broadcast's item for `node` (`count` targets in `to`): its target list is named once per frame, shared with any identical list before it. */
  addBroadcast(node: string, op: string, to: WireTargets, count: number, text: string): void {
    let p = this.pending.get(node);
    let t = p === undefined ? -1 : indexOfList(p.lists, to);
    let spec: string | undefined;
    let size = text.length + ITEM_OVERHEAD + BROADCAST_ITEM;
    if (t < 0) {
      spec = this.options.lists.spec(node, to, count);
      size += spec.length + 1;
    }
    const fresh = this.room(node, size);
    if (fresh !== p) {
      p = fresh;
      if (spec === undefined) {
        // Named in the frame just sent: a reference now.
        spec = this.options.lists.spec(node, to, count);
        size += spec.length + 1;
      }
      t = -1;
    }
    if (t < 0) {
      t = p.lists.length;
      p.lists.push(to);
      p.listTexts.push(spec!);
    }
    p.items.push(`{"k":"b","op":"${op}","t":${t}}`);
    p.texts.push(text);
    p.size += size;
    this.queued(node, p);
  }

  /** Sends what is queued for `node` now: before a frame that must go on its own (a traced one), so that order holds. */
  flushNode(node: string): void {
    const p = this.pending.get(node);
    if (p === undefined) return;
    this.pending.delete(node);
    try {
      this.options.publish(node, frameBytes(p.items, p.listTexts, p.texts, this.options.origin));
    } catch (err) {
      this.options.onError(err, node);
    }
  }

  /** Sends everything queued. */
  readonly flush = (): void => {
    this.scheduled = false;
    for (const node of [...this.pending.keys()]) this.flushNode(node);
  };

  /** The pending frame for `node` with room for `size` more: a full one is sent first. */
  private room(node: string, size: number): Pending {
    const p = this.pending.get(node);
    if (p !== undefined && p.size + size <= this.options.maxFrameBytes - FRAME_OVERHEAD) return p;
    if (p !== undefined) this.flushNode(node);
    const fresh: Pending = { items: [], texts: [], lists: [], listTexts: [], size: 0 };
    this.pending.set(node, fresh);
    return fresh;
  }

  private queued(node: string, p: Pending): void {
    // An item bigger than the bound on its own goes at once, alone.
    if (p.size >= this.options.maxFrameBytes - FRAME_OVERHEAD) this.flushNode(node);
    else if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flush);
    }
  }
}

/** Where an identical list is among `lists`: the same array, or the same runs of the same targets. */
function indexOfList(lists: readonly WireTargets[], to: WireTargets): number {
  for (let i = lists.length - 1; i >= 0; i--) if (sameTargets(lists[i]!, to)) return i;
  return -1;
}
