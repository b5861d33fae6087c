// The remote router's receiving side: reads a frame, resolves its target lists
// (target-lists.ts), and hands its items to this node's actors in order,
// synchronously, so the actors see a whole frame before they next run.
//
// A frame naming a list this node does not hold (a frame lost by NATS, this
// node restarted, or it forgot a sender it thought down) is not dropped: the
// sender is asked for the list again (`relist`), and that frame and every
// later one from the same sender wait, in order, until the answer comes.
// Nothing from that sender overtakes what waits, so per-sender order holds.
// The ask is repeated every heartbeat while frames wait. A sender that no
// longer holds the list says so (`gone`): those broadcasts are dropped and
// counted, as are frames that wait for a sender that goes down or restarts.
import type { MsgHdrs } from '@nats-io/transport-node';
import { type ActorSystem, type Address, type Carrier, Envelope, type Hints } from '../actors/index.js';
import type { RefMaker } from './codec.js';
import { traceparentSampledFlag } from '../tracing/index.js';
import { decodeValue } from './codec.js';
import { KnownLists, type ListSpec, type Resolved } from './target-lists.js';
import { type FrameHeader, type FrameItem, type WireHints, WIRE_VERSION, carriesText, splitFrame } from './wire.js';

export interface InboundStats {
  framesReceived: number;
  bytesReceived: number;
  refusedVersion: number;
  malformed: number;
  /** Frames that named a target list this node did not hold (the sender was asked for it again). */
  unknownLists: number;
  /** Broadcast items dropped: their list was gone at the sender, or they waited for a sender that went down or restarted. */
  listsLost: number;
}

export interface InboundOptions {
  system: ActorSystem;
  stats: InboundStats;
  /** Targets held per sending node (at least what senders hold for this node). */
  listBudget: number;
  /** Sends, calls, replies and monitors: the router's own state. */
  handleItem(item: FrameItem, message: unknown, carrier: Carrier | undefined): void;
  /** Asks `from` (incarnation `incarnation`) for lists `ids` again. */
  ask(from: string, incarnation: string, ids: number[]): void;
}

/** A frame read and partly handled: `next` is its next item, `text` its next message text. */
interface Frame {
  header: FrameHeader;
  texts: string[];
  carrier: Carrier | undefined;
  next: number;
  text: number;
  targets: (Address[] | 'gone' | undefined)[];
}

interface Waiting {
  incarnation: string;
  frames: Frame[];
  /** Ids asked for and not answered yet. */
  asked: Set<number>;
}

/** Frames that may wait for one sender's answer; past that they are dropped (counted) rather than held without bound. */
const MAX_WAITING_FRAMES = 10_000;

const decoder = new TextDecoder();

export class InboundFrames {
  private readonly lists: KnownLists;
  private readonly waiting = new Map<string, Waiting>();
  private readonly refFor: RefMaker;
  /**
   * Each held list's targets as the running actors' own addresses (which carry
   * their cell), so a delivery here skips the registry lookup, as a broadcast
   * on the guild's own node does. Keyed by the held list, so it goes when the
   * list is evicted; dropped whole when an actor of a kind in it stops, so a
   * list never keeps a stopped actor (and its state) alive: the next broadcast
   * naming a list binds it again.
   */
  private bound = new WeakMap<Address[], Address[]>();
  private readonly boundKinds = new Set<string>();
  private readonly unsubscribe: () => void;

  constructor(private readonly o: InboundOptions) {
    this.lists = new KnownLists(o.system.node, o.listBudget);
    this.refFor = (address) => o.system.refFor(address);
    this.unsubscribe = o.system.on((event) => {
      if (event.type === 'stop' && this.boundKinds.has(event.address.kind)) {
        this.bound = new WeakMap();
        this.boundKinds.clear();
      }
    });
  }

  /** Stops listening to the actor system (the router closed). */
  close(): void {
    this.unsubscribe();
    this.bound = new WeakMap();
  }

  /** One NATS message on this node's subject. */
  onFrame(data: Uint8Array, headers: MsgHdrs | undefined): void {
    const stats = this.o.stats;
    stats.framesReceived++;
    stats.bytesReceived += data.length;
    if (data.length === 0 || data[0] !== WIRE_VERSION) {
      stats.refusedVersion++;
      return;
    }
    // The sampled flag first, from the traceparent text, before the body is
    // parsed: an unsampled or absent context builds nothing (no headers at
    // all is the common case, and then nothing is decoded).
    const carrier = sampledCarrier(headers);
    let frame: Frame;
    try {
      const { header, texts } = splitFrame(decoder.decode(data.subarray(1)));
      frame = { header, texts, carrier, next: 0, text: 0, targets: [] };
    } catch {
      stats.malformed++;
      return;
    }
    const { f: from, s: incarnation } = frame.header;
    if (from !== undefined && incarnation !== undefined && !this.lists.sameIncarnation(from, incarnation)) this.dropWaiting(from);
    if (frame.header.a === 1) {
      if (from !== undefined) this.answered(from, frame.header.t ?? []);
      return;
    }
    const w = from === undefined ? undefined : this.waiting.get(from);
    if (w !== undefined) {
      if (w.frames.length >= MAX_WAITING_FRAMES) this.dropWaiting(from!);
      else {
        w.frames.push(frame);
        return;
      }
    }
    this.run(frame, from);
  }

  /** Asks again for what frames wait for (each heartbeat: an ask or its answer may have been lost). */
  retry(): void {
    for (const [from, w] of this.waiting) if (w.asked.size > 0) this.o.ask(from, w.incarnation, [...w.asked]);
  }

  /** `node` went down or left: its lists and the frames waiting for it are of no use. */
  forget(node: string): void {
    this.dropWaiting(node);
    this.lists.forget(node);
  }

  /** Target lists held from `node` (tests). */
  held(node: string): number {
    return this.lists.held(node);
  }

  /** Frames waiting for `node`'s answer (tests). */
  waitingFor(node: string): number {
    return this.waiting.get(node)?.frames.length ?? 0;
  }

  private answered(from: string, specs: ListSpec[]): void {
    const w = this.waiting.get(from);
    for (const spec of specs) {
      try {
        this.lists.answer(from, spec);
        if (w !== undefined && spec !== null && typeof spec === 'object') w.asked.delete('d' in spec ? spec.d : 'g' in spec ? spec.g : -1);
      } catch {
        this.o.stats.malformed++;
      }
    }
    if (w === undefined) return;
    // Resume in order; a frame that stops again keeps the rest waiting.
    while (w.frames.length > 0) {
      if (!this.run(w.frames[0]!, from)) return;
      w.frames.shift();
    }
    if (this.waiting.get(from) === w) this.waiting.delete(from);
  }

  /** Handles `frame` from its next item on; false when it stopped to wait for a list (and is now waiting). */
  private run(frame: Frame, from: string | undefined): boolean {
    const stats = this.o.stats;
    const items = frame.header.i;
    for (; frame.next < items.length; frame.next++) {
      const item = items[frame.next]!;
      let to: Address[] | undefined;
      if (item.k === 'b') {
        let r: Resolved | undefined = frame.targets[item.t];
        if (r === undefined) {
          try {
            r = this.lists.resolve(from, frame.header.t?.[item.t] as ListSpec);
          } catch (err) {
            stats.malformed++;
            frame.text++;
            this.o.system.report(err, 'remote frame', { node: this.o.system.node, id: 'remote-router', kind: 'cluster' });
            continue;
          }
          if (r === 'unknown') {
            this.wait(frame, from!, (frame.header.t![item.t] as { r: number }).r);
            return false;
          }
          frame.targets[item.t] = r;
        }
        if (r === 'gone') {
          stats.listsLost++;
          frame.text++;
          continue;
        }
        to = r;
      }
      let message: unknown;
      if (carriesText(item)) {
        try {
          message = decodeValue(frame.texts[frame.text++]!, this.refFor);
        } catch {
          stats.malformed++;
          continue;
        }
      }
      try {
        if (item.k === 'b') this.deliverBroadcast(item, to!, message, frame.carrier);
        else this.o.handleItem(item, message, frame.carrier);
      } catch (err) {
        stats.malformed++;
        this.o.system.report(err, 'remote frame', { node: this.o.system.node, id: 'remote-router', kind: 'cluster' });
      }
    }
    return true;
  }

  private wait(frame: Frame, from: string, id: number): void {
    this.o.stats.unknownLists++;
    let w = this.waiting.get(from);
    if (w === undefined) this.waiting.set(from, (w = { incarnation: frame.header.s!, frames: [frame], asked: new Set() }));
    else if (w.frames[0] !== frame) w.frames.unshift(frame);
    if (w.asked.has(id)) return;
    w.asked.add(id);
    this.o.ask(from, w.incarnation, [id]);
  }

  private dropWaiting(from: string): void {
    const w = this.waiting.get(from);
    if (w === undefined) return;
    this.waiting.delete(from);
    for (const f of w.frames) for (let i = f.next; i < f.header.i.length; i++) if (f.header.i[i]!.k === 'b') this.o.stats.listsLost++;
  }

  /** `to` as the addresses of the actors running now (an actor not running keeps the address it came with). */
  private bind(to: Address[]): Address[] {
    let out = this.bound.get(to);
    if (out !== undefined) return out;
    const system = this.o.system;
    out = new Array<Address>(to.length);
    for (let i = 0; i < to.length; i++) {
      const address = to[i]!;
      out[i] = system.refFor(address).address;
      this.boundKinds.add(address.kind);
    }
    this.bound.set(to, out);
    return out;
  }

  private deliverBroadcast(item: FrameItem & { k: 'b' }, listed: Address[], message: unknown, carrier: Carrier | undefined): void {
    const to = this.bind(listed);
    // Kept deliveries share one envelope, as they did at the sender.
    const kept = carrier === undefined || item.kept === undefined ? undefined : new Envelope(message, carrier, hintsOf(item.h));
    const system = this.o.system;
    // As one broadcast on the guild's own node: the deliveries share clock readings for their enqueue time.
    system.deliverBroadcast(() => {
      let next = kept === undefined ? -1 : 0;
      for (let i = 0; i < to.length; i++) {
        let payload = message;
        if (next >= 0 && item.kept![next] === i) {
          payload = kept;
          next++;
        }
        system.deliver(to[i]!, item.op, payload);
      }
    });
  }
}

export function hintsOf(h: WireHints | undefined): Hints | undefined {
  return h === undefined ? undefined : { fanoutSize: h[0], fanoutRate: h[1] };
}

/** The carrier of a frame whose traceparent header says sampled; undefined for anything else. */
function sampledCarrier(h: MsgHdrs | undefined): Carrier | undefined {
  if (h === undefined) return undefined;
  const traceparent = h.get('traceparent');
  if (traceparentSampledFlag(traceparent) !== 1) return undefined;
  const tracestate = h.get('tracestate');
  return tracestate ? { traceparent, tracestate } : { traceparent };
}
