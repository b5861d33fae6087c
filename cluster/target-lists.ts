// Target lists interned per pair of nodes, so that a guild broadcasting to the
// same subscribers on another node sends their ~40 bytes each once, not in
// every frame.
//
// - The sender (SentLists) keeps, per receiving node, the lists it has sent
//   under ids of its own (never reused within one router's life, its
//   incarnation). A list sent before and still held goes as a reference
//   `{"r":id}`; a new one as a definition `{"d":id,"l":[...]}`.
// - The receiver (KnownLists) keeps, per sending node and incarnation, what it
//   was defined, already turned into addresses.
// - Both sides bound what they hold by targets (the sum of the lists' lengths)
//   and evict the least recently used list first. They see the same sequence
//   of definitions and references (frames from one publisher arrive in order),
//   so with the receiver's bound at least the sender's, the receiver still
//   holds every list the sender may name. What breaks that (a frame lost by
//   NATS, a receiver that restarted, or forgot a node it thought down) shows as
//   a reference the receiver does not know: the remote router then holds that
//   sender's frames and asks for the list again (remote-router.ts).
// - A new incarnation of a sender (it restarted) replaces what the receiver
//   held for it; a node that goes down or says goodbye is forgotten by both.
import type { Address } from '../actors/index.js';
import { type WireTargets, sameTargets } from './wire.js';

/** A broadcast's targets in a frame: defined (and kept), named by id, given once (not kept), or gone (in an answer: the sender no longer has it). */
export type ListSpec = { d: number; l: WireTargets } | { r: number } | { l: WireTargets } | { g: number };

interface SentEntry {
  id: number;
  key: string;
  to: WireTargets;
  count: number;
}

/** Sender side: the lists each receiving node holds from this router. */
export class SentLists {
  private nextId = 0;
  private readonly peers = new Map<string, SentPeer>();

  /** `budget`: targets held per receiving node; a list longer than that is never interned. */
  constructor(private readonly budget: number) {}

  /** The spec's JSON for `to` (of `count` targets) sent to `node`, marking it the most recently used. */
  spec(node: string, to: WireTargets, count: number): string {
    if (count > this.budget) return `{"l":${JSON.stringify(to)}}`;
    let peer = this.peers.get(node);
    if (peer === undefined) this.peers.set(node, (peer = { byKey: new Map(), byId: new Map(), total: 0 }));
    const key = keyOf(to, count);
    const held = peer.byKey.get(key);
    if (held !== undefined && sameTargets(held.to, to)) {
      peer.byId.delete(held.id);
      peer.byId.set(held.id, held);
      return `{"r":${held.id}}`;
    }
    const entry: SentEntry = { id: ++this.nextId, key, to, count };
    if (held !== undefined) drop(peer, held);
    peer.byKey.set(key, entry);
    peer.byId.set(entry.id, entry);
    peer.total += count;
    evict(peer, this.budget);
    return `{"d":${entry.id},"l":${JSON.stringify(to)}}`;
  }

  /** The answer to a receiver that lacks list `id`: its definition again (most recently used now), or that it is gone. */
  answer(node: string, id: number): string {
    const peer = this.peers.get(node);
    const held = peer?.byId.get(id);
    if (peer === undefined || held === undefined) return `{"g":${id}}`;
    peer.byId.delete(id);
    peer.byId.set(id, held);
    return `{"d":${id},"l":${JSON.stringify(held.to)}}`;
  }

  /** `node` went down or left: whatever it held is gone with it. */
  forget(node: string): void {
    this.peers.delete(node);
  }

  /** Targets held for `node` (tests, metrics). */
  held(node: string): number {
    return this.peers.get(node)?.total ?? 0;
  }
}

interface SentPeer {
  byKey: Map<string, SentEntry>;
  /** In order of use, least recent first. */
  byId: Map<number, SentEntry>;
  total: number;
}

function drop(peer: SentPeer, e: SentEntry): void {
  peer.byId.delete(e.id);
  if (peer.byKey.get(e.key) === e) peer.byKey.delete(e.key);
  peer.total -= e.count;
}

function evict(peer: SentPeer, budget: number): void {
  for (const e of peer.byId.values()) {
    if (peer.total <= budget || peer.byId.size === 1) return;
    drop(peer, e);
  }
}

/** A lookup key: lists with the same key are compared in full. */
function keyOf(to: WireTargets, count: number): string {
  const first = to[0];
  const last = to[to.length - 1];
  return `${count}\u0000${first?.[0]}\u0000${first?.[1][0]}\u0000${last?.[1][last[1].length - 1]}`;
}

interface KnownEntry {
  to: Address[];
}

interface KnownPeer {
  incarnation: string;
  /** In order of use, least recent first. */
  byId: Map<number, KnownEntry>;
  total: number;
}

/** What `resolve` found: the addresses, or that the sender must be asked (`unknown`) or has lost the list (`gone`). */
export type Resolved = Address[] | 'unknown' | 'gone';

/** Receiver side: the lists each sending node defined here, as addresses on this node. */
export class KnownLists {
  private readonly peers = new Map<string, KnownPeer>();
  /** Ids a sender said it no longer has, per sender: items naming them are dropped (counted) rather than held. */
  private readonly gone = new Map<string, Set<number>>();

  /** `budget` must be at least the senders' (SentLists) so that both sides evict alike. */
  constructor(
    private readonly node: string,
    private readonly budget: number,
  ) {}

  /**
   * Whether `incarnation` is what this node holds for `from`; a new one (the
   * sender restarted) replaces it. Returns false when it replaced something.
   */
  sameIncarnation(from: string, incarnation: string): boolean {
    const peer = this.peers.get(from);
    if (peer === undefined) {
      this.peers.set(from, { incarnation, byId: new Map(), total: 0 });
      return true;
    }
    if (peer.incarnation === incarnation) return true;
    this.peers.set(from, { incarnation, byId: new Map(), total: 0 });
    this.gone.delete(from);
    return false;
  }

  /** The addresses of a spec from `from` (whose incarnation was checked first); throws on a malformed one. */
  resolve(from: string | undefined, spec: ListSpec): Resolved {
    if (spec === null || typeof spec !== 'object') throw new TypeError('a target list spec is an object');
    if ('r' in spec) {
      const peer = from === undefined ? undefined : this.peers.get(from);
      const held = peer?.byId.get(spec.r);
      if (held === undefined) return this.gone.get(from!)?.has(spec.r) ? 'gone' : 'unknown';
      peer!.byId.delete(spec.r);
      peer!.byId.set(spec.r, held);
      return held.to;
    }
    if ('g' in spec) throw new TypeError('a "gone" spec is only an answer');
    const to = this.addresses(spec.l);
    if ('d' in spec) this.define(from, spec.d, to);
    return to;
  }

  /** An answer's spec: a definition is kept, a `gone` remembered. */
  answer(from: string, spec: ListSpec): void {
    if (spec === null || typeof spec !== 'object') throw new TypeError('a target list spec is an object');
    if ('g' in spec) {
      if (typeof spec.g !== 'number') throw new TypeError('a gone id is a number');
      let set = this.gone.get(from);
      if (set === undefined) this.gone.set(from, (set = new Set()));
      set.add(spec.g);
      return;
    }
    if ('d' in spec) this.define(from, spec.d, this.addresses(spec.l));
  }

  /** The sender's lists are of no use any more (it went down or left). */
  forget(from: string): void {
    this.peers.delete(from);
    this.gone.delete(from);
  }

  /** Targets held from `from` (tests, metrics). */
  held(from: string): number {
    return this.peers.get(from)?.total ?? 0;
  }

  private define(from: string | undefined, id: number, to: Address[]): void {
    if (typeof id !== 'number') throw new TypeError('a list id is a number');
    const peer = from === undefined ? undefined : this.peers.get(from);
    if (peer === undefined) throw new TypeError('a defined list needs its sender and incarnation in the frame');
    const old = peer.byId.get(id);
    if (old !== undefined) {
      peer.byId.delete(id);
      peer.total -= old.to.length;
    }
    peer.byId.set(id, { to });
    peer.total += to.length;
    for (const [i, e] of peer.byId) {
      if (peer.total <= this.budget || peer.byId.size === 1) break;
      peer.byId.delete(i);
      peer.total -= e.to.length;
    }
  }

  /** A list's addresses on this node; throws on anything but [[kind, [id, ...]], ...]. */
  private addresses(list: WireTargets | undefined): Address[] {
    if (!Array.isArray(list)) throw new TypeError('a broadcast names a target list the frame does not have');
    const out: Address[] = [];
    for (const run of list) {
      if (!Array.isArray(run)) throw new TypeError('a target list is [[kind, [id, ...]], ...]');
      const [kind, ids] = run;
      if (typeof kind !== 'string' || !Array.isArray(ids)) throw new TypeError('a target list is [[kind, [id, ...]], ...]');
      for (const id of ids) {
        if (typeof id !== 'string') throw new TypeError('a target id is a string');
        out.push({ node: this.node, id, kind });
      }
    }
    return out;
  }
}
