// Actors across processes over NATS: the actor system's RemoteRouter.
//
// - An address is (node, actor id); a frame for a node goes to its subject and
//   the node delivers it locally (system.deliver: the sender's relay already ran).
// - `call`: a correlation id, the reply frame goes to the caller's node. The
//   timeout is the caller's own, as for a local call (ActorSystem.call).
// - Broadcast (Discord's Manifold): between beginBroadcast and endBroadcast the
//   deliveries for each remote node are collected, and each node gets one
//   item with the message encoded once (once for the whole broadcast) and
//   its target list; which targets are kept in the trace is a list of indices,
//   decided by the sender's Transport with the broadcast's global N.
// - Untraced items for a node wait in the outbox (outbox.ts) until the
//   microtasks have run, and leave as one frame in the order they were made;
//   back-to-back broadcasts to the same targets share one target list, which
//   each node is sent once and then named by id (target-lists.ts). A traced
//   item goes alone (its trace context is the NATS message's headers), after
//   what was queued before it. The receiver (remote-inbound.ts) handles a
//   frame's items in order, synchronously, so its actors see them all before
//   they next run.
// - Trace context rides in NATS headers only when sampled; a receiver checks
//   the sampled flag in the traceparent text before it parses anything else,
//   and a frame with no headers, with headers but no (sampled) traceparent,
//   or from a node with tracing off are all handled alike: a bare message.
// - Liveness by heartbeat (node-watch.ts): when a node goes down, monitors of
//   its actors fire with `nodedown` and calls to it reject with
//   ACTOR_ERR_NODE_DOWN, within downAfterMs + heartbeatMs of its last beat.
// - A frame of an unknown wire version is counted and dropped, never a crash.
import { randomBytes } from 'node:crypto';
import { type NatsConnection, type MsgHdrs, type Subscription, headers } from '@nats-io/transport-node';
import {
  ActorError,
  ActorErrorCode,
  type ActorSystem,
  type Address,
  type Carrier,
  type DownListener,
  type DownReason,
  Envelope,
  type Hints,
  isEnvelope,
  type MessageOp,
  type PendingReply,
  type RemoteRouter,
} from '../actors/index.js';
import { traceparentSampledFlag } from '../tracing/index.js';
import { encodeValue } from './codec.js';
import { NodeWatch } from './node-watch.js';
import { BroadcastBatches } from './broadcast-batches.js';
import { Outbox } from './outbox.js';
import { InboundFrames, hintsOf } from './remote-inbound.js';
import { SentLists } from './target-lists.js';
import { type FrameItem, type WireDownReason, type WireHints, checkToken, frameBytes, originOf, subjects, toWireReason } from './wire.js';

export interface NatsRouterOptions {
  system: ActorSystem;
  nats: NatsConnection;
  /** Subject prefix shared by the nodes of one cluster (one per test run). */
  prefix: string;
  /** Milliseconds between heartbeats (default 1000). */
  heartbeatMs?: number;
  /** A node unheard for this long is down (default 3000). */
  downAfterMs?: number;
  /** Bound on one frame, in characters of its texts (default 256 KiB; NATS refuses more than 1 MB). */
  maxFrameBytes?: number;
  /** Targets of the lists held for each other node (default 100,000); a receiver holds twice this from each sender. */
  listBudget?: number;
}

export interface RemoteStats {
  /** NATS messages published with frames (heartbeats not counted). */
  framesSent: number;
  framesReceived: number;
  /** Bytes of the frames sent and received (bodies, headers not counted). */
  bytesSent: number;
  bytesReceived: number;
  /** Broadcast items sent (one per remote node per broadcast, more for a target list past half a frame); merged frames carry several. */
  batchesSent: number;
  /** Items sent (sends, calls, replies, broadcasts, monitors); framesSent counts the NATS messages that carried them. */
  itemsSent: number;
  /** Frames refused for an unknown wire version. */
  refusedVersion: number;
  /** Frames that could not be read (bad JSON or shape), and items that could not be decoded or handled. */
  malformed: number;
  /** Frames that named a target list this node did not hold (the sender was asked for it again; they waited meanwhile). */
  unknownLists: number;
  /** Broadcast items dropped: their list was gone at the sender, or they waited for a sender that went down or restarted. */
  listsLost: number;
  /** Lists sent again to a node that asked for them. */
  listsResent: number;
}

interface PendingCall {
  node: string;
  reply: PendingReply;
}

interface Monitor {
  address: Address;
  listener: DownListener;
}

export class NatsRemoteRouter implements RemoteRouter {
  readonly node: string;
  readonly stats: RemoteStats = {
    framesSent: 0,
    framesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    batchesSent: 0,
    itemsSent: 0,
    refusedVersion: 0,
    malformed: 0,
    unknownLists: 0,
    listsLost: 0,
    listsResent: 0,
  };
  /** This router's life: the target list ids it sends are its own. */
  readonly incarnation = randomBytes(6).toString('hex');
  private readonly system: ActorSystem;
  private readonly nats: NatsConnection;
  private readonly subject: ReturnType<typeof subjects>;
  private readonly watch: NodeWatch;
  private readonly subscriptions: Subscription[] = [];
  private readonly calls = new Map<number, PendingCall>();
  private readonly monitors = new Map<number, Monitor>();
  /** Monitors other nodes hold on our actors: `${node}:${id}` -> unmonitor. */
  private readonly watched = new Map<string, () => void>();
  private seq = 0;
  private batching = false;
  private readonly batches: BroadcastBatches;
  private readonly outbox: Outbox;
  private readonly lists: SentLists;
  private readonly origin: string;
  private readonly inbound: InboundFrames;

  constructor(options: NatsRouterOptions) {
    this.system = options.system;
    this.nats = options.nats;
    this.node = checkToken('node name', options.system.node);
    for (const token of options.prefix.split('.')) checkToken('subject prefix', token);
    this.subject = subjects(options.prefix);
    const heartbeatMs = options.heartbeatMs ?? 1_000;
    const maxFrameBytes = options.maxFrameBytes ?? 256 * 1024;
    if (!(maxFrameBytes >= 1024 && maxFrameBytes <= 300 * 1024)) throw new RangeError(`maxFrameBytes must be 1 KiB to 300 KiB (3 bytes a character stays under NATS's 1 MB), got ${maxFrameBytes}`);
    // A target list leaves room in its frame for the message; a longer one is split (each target still gets the messages in order).
    this.batches = new BroadcastBatches(maxFrameBytes / 2);
    const listBudget = options.listBudget ?? 100_000;
    this.lists = new SentLists(listBudget);
    this.origin = originOf(this.node, this.incarnation);
    this.inbound = new InboundFrames({
      system: this.system,
      stats: this.stats,
      listBudget: 2 * listBudget,
      handleItem: (item, message, carrier) => this.handleItem(item, message, carrier),
      ask: (from, incarnation, ids) => this.send(from, control({ k: 'relist', s: incarnation, r: ids, f: this.node }), undefined, undefined),
    });
    this.outbox = new Outbox({
      maxFrameBytes,
      lists: this.lists,
      origin: this.origin,
      publish: (node, bytes) => this.publish(node, bytes, undefined),
      onError: (err, node) => this.system.report(err, 'remote frame', { node, id: 'remote-router', kind: 'cluster' }),
    });
    this.watch = new NodeWatch({
      clock: this.system.clock,
      heartbeatMs,
      downAfterMs: options.downAfterMs ?? 3 * heartbeatMs,
      beat: () => {
        this.nats.publish(this.subject.heartbeat, this.node);
        this.forgetSettled();
        this.inbound.retry();
      },
      onDown: (node) => this.nodeDown(node),
    });
  }

  /** Subscribes, starts heartbeats and becomes the system's remote router. */
  async start(): Promise<this> {
    this.subscriptions.push(
      this.nats.subscribe(this.subject.node(this.node), {
        callback: (err, msg) => {
          if (err === null) this.inbound.onFrame(msg.data, msg.headers);
        },
      }),
      this.nats.subscribe(this.subject.heartbeat, {
        callback: (err, msg) => {
          if (err === null && msg.string() !== this.node) this.watch.heard(msg.string());
        },
      }),
      this.nats.subscribe(this.subject.bye, {
        callback: (err, msg) => {
          if (err === null && msg.string() !== this.node) this.watch.left(msg.string());
        },
      }),
    );
    // The subscriptions are in place at the server before anyone hears our first beat.
    await this.nats.flush();
    this.system.remote = this;
    this.watch.start();
    return this;
  }

  /** Says goodbye (others see this node down at once), stops heartbeats and unsubscribes. */
  async close(): Promise<void> {
    this.watch.stop();
    this.inbound.close();
    if (this.system.remote === this) this.system.remote = undefined;
    this.outbox.flush();
    this.nats.publish(this.subject.bye, this.node);
    for (const s of this.subscriptions.splice(0)) s.unsubscribe();
    for (const unmonitor of this.watched.values()) unmonitor();
    this.watched.clear();
    for (const [c, call] of this.calls) {
      this.calls.delete(c);
      call.reply.reject(new ActorError(ActorErrorCode.STOPPED, `node ${this.node} closed its remote router before ${call.node} answered`));
    }
    await this.nats.flush();
  }

  /** Whether `node` is down to this router (no heartbeat within the bound, or it said goodbye) until heard again. */
  isDown(node: string): boolean {
    return this.watch.isDown(node);
  }

  // --- RemoteRouter ---

  route(target: Address, op: MessageOp, payload: unknown, reply?: PendingReply): boolean {
    if (this.watch.isDown(target.node)) {
      reply?.reject(nodeDownError(target.node));
      return false;
    }
    this.watch.expect(target.node);
    if (this.batching && reply === undefined) {
      const { carrier, hints } = traceOf(payload);
      this.batches.add(target, op, isEnvelope(payload) ? payload.message : payload, carrier, hints);
      return true;
    }
    const message = isEnvelope(payload) ? payload.message : payload;
    let text: string;
    try {
      text = encodeValue(message);
    } catch (err) {
      if (reply === undefined) throw err;
      reply.reject(err as Error);
      return false;
    }
    const { carrier, hints } = traceOf(payload);
    let item = `{"k":"m","op":"${op}","to":${JSON.stringify([target.id, target.kind])}`;
    if (reply !== undefined) {
      const c = ++this.seq;
      this.calls.set(c, { node: target.node, reply });
      item += `,"c":${c},"f":"${this.node}"`;
    }
    if (hints !== undefined) item += `,"h":${JSON.stringify(wireHints(hints))}`;
    this.send(target.node, `${item}}`, text, carrier);
    return true;
  }

  beginBroadcast(): void {
    this.batching = true;
  }

  endBroadcast(): void {
    this.batching = false;
    const batches = this.batches.take();
    if (batches.length === 0) return;
    // The message is encoded once for the whole broadcast, whatever the number of nodes.
    let lastMessage: unknown = undefined;
    let lastText = '';
    for (const b of batches) {
      if (lastText === '' || b.message !== lastMessage) {
        lastText = encodeValue(b.message);
        lastMessage = b.message;
      }
      this.stats.batchesSent++;
      this.stats.itemsSent++;
      if (b.kept.length === 0) {
        this.outbox.addBroadcast(b.node, b.op, b.to, b.count, lastText);
        continue;
      }
      let item = `{"k":"b","op":"${b.op}","t":0,"kept":${JSON.stringify(b.kept)}`;
      if (b.hints !== undefined) item += `,"h":${JSON.stringify(wireHints(b.hints))}`;
      this.outbox.flushNode(b.node);
      this.publish(b.node, frameBytes([`${item}}`], [`{"l":${JSON.stringify(b.to)}}`], [lastText], this.origin), b.carrier);
    }
  }

  monitor(address: Address, listener: DownListener): () => void {
    if (this.watch.isDown(address.node)) {
      queueMicrotask(() => listener({ type: 'nodedown', node: address.node }, address));
      return () => {};
    }
    this.watch.expect(address.node);
    const i = ++this.seq;
    this.monitors.set(i, { address, listener });
    this.send(address.node, control({ k: 'mon', i, to: [address.id, address.kind], f: this.node }), undefined, undefined);
    return () => {
      if (this.monitors.delete(i)) this.send(address.node, control({ k: 'demon', i, f: this.node }), undefined, undefined);
    };
  }

  /** Sends what the outbox holds now rather than after the microtasks. */
  flush(): void {
    this.outbox.flush();
  }

  // --- sending ---

  /** An item for `node`: through the outbox, or (traced) on its own after what the outbox held. */
  private send(node: string, item: string, text: string | undefined, carrier: Carrier | undefined): void {
    this.stats.itemsSent++;
    if (carrier === undefined) {
      this.outbox.add(node, item, text);
      return;
    }
    this.outbox.flushNode(node);
    this.publish(node, frameBytes([item], [], text === undefined ? [] : [text], this.origin), carrier);
  }

  private publish(node: string, bytes: Uint8Array, carrier: Carrier | undefined): void {
    this.stats.framesSent++;
    this.stats.bytesSent += bytes.length;
    if (carrier === undefined) {
      this.nats.publish(this.subject.node(node), bytes);
      return;
    }
    const h: MsgHdrs = headers();
    h.set('traceparent', carrier.traceparent);
    if (carrier.tracestate) h.set('tracestate', carrier.tracestate);
    this.nats.publish(this.subject.node(node), bytes, { headers: h });
  }

  private reply(node: string, c: number, outcome: { ok: true; value: unknown } | { ok: false; error: Error }): void {
    if (outcome.ok) {
      try {
        this.send(node, `{"k":"r","c":${c},"ok":true}`, encodeValue(outcome.value), undefined);
        return;
      } catch (err) {
        outcome = { ok: false, error: err as Error };
      }
    }
    const code = outcome.error instanceof ActorError ? outcome.error.code : ActorErrorCode.CRASHED;
    this.send(node, control({ k: 'r', c, ok: false, code, e: outcome.error.message }), undefined, undefined);
  }

  // --- receiving ---

  private handleItem(item: FrameItem, message: unknown, carrier: Carrier | undefined): void {
    switch (item.k) {
      case 'm': {
        const target: Address = { node: this.node, id: item.to[0], kind: item.to[1] };
        const payload = carrier === undefined ? message : new Envelope(message, carrier, hintsOf(item.h));
        if (item.c === undefined || item.f === undefined) {
          this.system.deliver(target, item.op, payload);
          return;
        }
        const c = item.c;
        const from = item.f;
        const pending: PendingReply = {
          settled: false,
          resolve: (value) => {
            if (pending.settled) return;
            pending.settled = true;
            this.reply(from, c, { ok: true, value });
          },
          reject: (error) => {
            if (pending.settled) return;
            pending.settled = true;
            this.reply(from, c, { ok: false, error });
          },
        };
        this.system.deliver(target, item.op, payload, pending);
        return;
      }
      case 'r': {
        const call = this.calls.get(item.c);
        if (!call) return;
        this.calls.delete(item.c);
        if (item.ok) call.reply.resolve(message);
        else call.reply.reject(new ActorError(knownCode(item.code), item.e));
        return;
      }
      case 'mon': {
        const key = `${item.f}:${item.i}`;
        const from = item.f;
        const i = item.i;
        const ref = this.system.refFor({ node: this.node, id: item.to[0], kind: item.to[1] });
        const unmonitor = this.system.monitor(ref, (reason) => {
          this.watched.delete(key);
          this.send(from, control({ k: 'down', i, r: toWireReason(reason) }), undefined, undefined);
        });
        this.watched.set(key, unmonitor);
        return;
      }
      case 'demon': {
        const key = `${item.f}:${item.i}`;
        this.watched.get(key)?.();
        this.watched.delete(key);
        return;
      }
      case 'down': {
        const m = this.monitors.get(item.i);
        if (!m) return;
        this.monitors.delete(item.i);
        this.notify(m, item.r as DownReason | WireDownReason as DownReason);
        return;
      }
      case 'relist': {
        // Lists of another incarnation of this node are gone; the answer's own incarnation tells the asker so.
        const specs = item.r.map((id) => (item.s === this.incarnation ? this.lists.answer(item.f, id) : `{"g":${id}}`));
        this.stats.listsResent += specs.length;
        this.publish(item.f, frameBytes([], specs, [], `${this.origin},"a":1`), undefined);
        return;
      }
    }
  }

  private notify(m: Monitor, reason: DownReason): void {
    try {
      m.listener(reason, m.address);
    } catch (err) {
      this.system.report(err, 'monitor', m.address);
    }
  }

  private nodeDown(node: string): void {
    this.lists.forget(node);
    this.inbound.forget(node);
    for (const [c, call] of this.calls) {
      if (call.node !== node) continue;
      this.calls.delete(c);
      call.reply.reject(nodeDownError(node));
    }
    for (const [i, m] of this.monitors) {
      if (m.address.node !== node) continue;
      this.monitors.delete(i);
      this.notify(m, { type: 'nodedown', node });
    }
    for (const [key, unmonitor] of this.watched) {
      if (!key.startsWith(`${node}:`)) continue;
      unmonitor();
      this.watched.delete(key);
    }
  }

  /** Calls that timed out at the caller stay settled; a reply may never come, so they are forgotten each heartbeat. */
  private forgetSettled(): void {
    for (const [c, call] of this.calls) if (call.reply.settled) this.calls.delete(c);
  }
}

function nodeDownError(node: string): ActorError {
  return new ActorError(ActorErrorCode.NODE_DOWN, `node ${node} is down (no heartbeat within the bound)`);
}

const CODES = new Set<string>(Object.values(ActorErrorCode));

function knownCode(code: string): ActorErrorCode {
  return CODES.has(code) ? (code as ActorErrorCode) : ActorErrorCode.CRASHED;
}

function traceOf(payload: unknown): { carrier: Carrier | undefined; hints: Hints | undefined } {
  if (!isEnvelope(payload) || payload.carrier === undefined) return { carrier: undefined, hints: undefined };
  // Only a sampled context crosses (an envelope may hold an unsampled one from a custom sender).
  if (traceparentSampledFlag(payload.carrier.traceparent) !== 1) return { carrier: undefined, hints: undefined };
  return { carrier: payload.carrier, hints: payload.hints };
}

/** A control item's JSON (no message text follows). */
function control(item: FrameItem): string {
  return JSON.stringify(item);
}

function wireHints(hints: Hints): WireHints | undefined {
  return hints.fanoutSize === undefined ? undefined : [hints.fanoutSize, hints.fanoutRate ?? 1];
}
