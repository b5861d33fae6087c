// Actors across processes over NATS: the actor system's RemoteRouter.
//
// - An address is (node, actor id); a frame for a node goes to its subject and
//   the node delivers it locally (system.deliver: the sender's relay already ran).
// - `call`: a correlation id, the reply frame goes to the caller's node. The
//   timeout is the caller's own, as for a local call (ActorSystem.call).
// - Broadcast (Discord's Manifold): between beginBroadcast and endBroadcast the
//   deliveries for each remote node are collected, and each node gets ONE
//   frame with the message encoded once (once for the whole broadcast) and
//   its target list; which targets are kept in the trace is a list of indices,
//   decided by the sender's Transport with the broadcast's global N.
// - Trace context rides in NATS headers only when sampled; a receiver checks
//   the sampled flag in the traceparent text before it parses anything else,
//   and a frame with no headers, with headers but no (sampled) traceparent,
//   or from a node with tracing off are all handled alike: a bare message.
// - Liveness by heartbeat (node-watch.ts): when a node goes down, monitors of
//   its actors fire with `nodedown` and calls to it reject with
//   ACTOR_ERR_NODE_DOWN, within downAfterMs + heartbeatMs of its last beat.
// - A frame of an unknown wire version is counted and dropped, never a crash.
import { type NatsConnection, type Msg, type MsgHdrs, type Subscription, headers } from '@nats-io/transport-node';
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
import { decodeValue, encodeValue } from './codec.js';
import { NodeWatch } from './node-watch.js';
import { type Frame, type Target, type WireDownReason, type WireHints, WIRE_VERSION, checkToken, controlBytes, frameBytes, subjects, toWireReason } from './wire.js';

export interface NatsRouterOptions {
  system: ActorSystem;
  nats: NatsConnection;
  /** Subject prefix shared by the nodes of one cluster (one per test run). */
  prefix: string;
  /** Milliseconds between heartbeats (default 1000). */
  heartbeatMs?: number;
  /** A node unheard for this long is down (default 3000). */
  downAfterMs?: number;
}

export interface RemoteStats {
  /** NATS messages published with frames (heartbeats not counted). */
  framesSent: number;
  framesReceived: number;
  /** Bytes of the frames sent and received (bodies, headers not counted). */
  bytesSent: number;
  bytesReceived: number;
  /** Broadcast frames sent (one per remote node per broadcast). */
  batchesSent: number;
  /** Frames refused for an unknown wire version. */
  refusedVersion: number;
  /** Frames that could not be read (bad JSON or shape). */
  malformed: number;
}

interface Batch {
  node: string;
  op: MessageOp;
  message: unknown;
  carrier: Carrier | undefined;
  hints: Hints | undefined;
  to: Target[];
  kept: number[];
}

interface PendingCall {
  node: string;
  reply: PendingReply;
}

interface Monitor {
  address: Address;
  listener: DownListener;
}

const decoder = new TextDecoder();

export class NatsRemoteRouter implements RemoteRouter {
  readonly node: string;
  readonly stats: RemoteStats = { framesSent: 0, framesReceived: 0, bytesSent: 0, bytesReceived: 0, batchesSent: 0, refusedVersion: 0, malformed: 0 };
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
  private batches: Batch[] = [];
  private readonly refFor = (address: Address) => this.system.refFor(address);

  constructor(options: NatsRouterOptions) {
    this.system = options.system;
    this.nats = options.nats;
    this.node = checkToken('node name', options.system.node);
    for (const token of options.prefix.split('.')) checkToken('subject prefix', token);
    this.subject = subjects(options.prefix);
    const heartbeatMs = options.heartbeatMs ?? 1_000;
    this.watch = new NodeWatch({
      clock: this.system.clock,
      heartbeatMs,
      downAfterMs: options.downAfterMs ?? 3 * heartbeatMs,
      beat: () => {
        this.nats.publish(this.subject.heartbeat, this.node);
        this.forgetSettled();
      },
      onDown: (node) => this.nodeDown(node),
    });
  }

  /** Subscribes, starts heartbeats and becomes the system's remote router. */
  async start(): Promise<this> {
    this.subscriptions.push(
      this.nats.subscribe(this.subject.node(this.node), {
        callback: (err, msg) => {
          if (err === null) this.onFrame(msg);
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
    if (this.system.remote === this) this.system.remote = undefined;
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
    if (this.batching && reply === undefined) return this.collect(target, op, payload);
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
    let head = `{"k":"m","op":"${op}","to":${JSON.stringify([target.id, target.kind])}`;
    if (reply !== undefined) {
      const c = ++this.seq;
      this.calls.set(c, { node: target.node, reply });
      head += `,"c":${c},"f":"${this.node}"`;
    }
    if (hints !== undefined) head += `,"h":${JSON.stringify(wireHints(hints))}`;
    this.publish(target.node, frameBytes(`${head},"m":`, text), carrier);
    return true;
  }

  beginBroadcast(): void {
    this.batching = true;
  }

  endBroadcast(): void {
    this.batching = false;
    const batches = this.batches;
    if (batches.length === 0) return;
    this.batches = [];
    // The message is encoded once for the whole broadcast, whatever the number of nodes.
    let lastMessage: unknown = undefined;
    let lastText = '';
    for (const b of batches) {
      if (lastText === '' || b.message !== lastMessage) {
        lastText = encodeValue(b.message);
        lastMessage = b.message;
      }
      let head = `{"k":"b","op":"${b.op}","to":${JSON.stringify(b.to)}`;
      if (b.kept.length > 0) head += `,"kept":${JSON.stringify(b.kept)}`;
      if (b.hints !== undefined) head += `,"h":${JSON.stringify(wireHints(b.hints))}`;
      this.publish(b.node, frameBytes(`${head},"m":`, lastText), b.kept.length > 0 ? b.carrier : undefined);
      this.stats.batchesSent++;
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
    this.publish(address.node, controlBytes({ k: 'mon', i, to: [address.id, address.kind], f: this.node }), undefined);
    return () => {
      if (this.monitors.delete(i)) this.publish(address.node, controlBytes({ k: 'demon', i, f: this.node }), undefined);
    };
  }

  // --- sending ---

  /** One delivery of a broadcast for a remote node: into that node's frame. */
  private collect(target: Address, op: MessageOp, payload: unknown): boolean {
    const message = isEnvelope(payload) ? payload.message : payload;
    const { carrier, hints } = traceOf(payload);
    let batch: Batch | undefined;
    for (let i = this.batches.length - 1; i >= 0; i--) {
      if (this.batches[i]!.node === target.node) {
        batch = this.batches[i];
        break;
      }
    }
    // A frame carries one message, one op and one trace context; anything else starts another frame.
    const fits = batch !== undefined && batch.message === message && batch.op === op && (carrier === undefined || batch.carrier === undefined || batch.carrier === carrier);
    if (!fits) {
      batch = { node: target.node, op, message, carrier: undefined, hints: undefined, to: [], kept: [] };
      this.batches.push(batch);
    }
    if (carrier !== undefined) {
      batch!.carrier = carrier;
      batch!.hints = hints;
      batch!.kept.push(batch!.to.length);
    }
    batch!.to.push([target.id, target.kind]);
    return true;
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
        this.publish(node, frameBytes(`{"k":"r","c":${c},"ok":true,"v":`, encodeValue(outcome.value)), undefined);
        return;
      } catch (err) {
        outcome = { ok: false, error: err as Error };
      }
    }
    const code = outcome.error instanceof ActorError ? outcome.error.code : ActorErrorCode.CRASHED;
    this.publish(node, controlBytes({ k: 'r', c, ok: false, code, e: outcome.error.message }), undefined);
  }

  // --- receiving ---

  private onFrame(msg: Msg): void {
    this.stats.framesReceived++;
    const data = msg.data;
    this.stats.bytesReceived += data.length;
    if (data.length === 0 || data[0] !== WIRE_VERSION) {
      this.stats.refusedVersion++;
      return;
    }
    // The sampled flag first, from the traceparent text, before the body is
    // parsed: an unsampled or absent context builds nothing (no headers at
    // all is the common case, and then nothing is decoded).
    const carrier = sampledCarrier(msg.headers);
    let frame: Frame;
    try {
      frame = decodeValue(decoder.decode(data.subarray(1)), this.refFor) as Frame;
    } catch {
      this.stats.malformed++;
      return;
    }
    try {
      this.handleFrame(frame, carrier);
    } catch (err) {
      this.stats.malformed++;
      this.system.report(err, 'remote frame', { node: this.node, id: 'remote-router', kind: 'cluster' });
    }
  }

  private handleFrame(frame: Frame, carrier: Carrier | undefined): void {
    switch (frame.k) {
      case 'm': {
        const target: Address = { node: this.node, id: frame.to[0], kind: frame.to[1] };
        const payload = carrier === undefined ? frame.m : new Envelope(frame.m, carrier, hintsOf(frame.h));
        if (frame.c === undefined || frame.f === undefined) {
          this.system.deliver(target, frame.op, payload);
          return;
        }
        const c = frame.c;
        const from = frame.f;
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
        this.system.deliver(target, frame.op, payload, pending);
        return;
      }
      case 'b': {
        // Kept deliveries share one envelope, as they did at the sender.
        const kept = carrier === undefined || frame.kept === undefined ? undefined : new Envelope(frame.m, carrier, hintsOf(frame.h));
        let next = kept === undefined ? -1 : 0;
        for (let i = 0; i < frame.to.length; i++) {
          const [id, kind] = frame.to[i]!;
          let payload: unknown = frame.m;
          if (next >= 0 && frame.kept![next] === i) {
            payload = kept;
            next++;
          }
          this.system.deliver({ node: this.node, id, kind }, frame.op, payload);
        }
        return;
      }
      case 'r': {
        const call = this.calls.get(frame.c);
        if (!call) return;
        this.calls.delete(frame.c);
        if (frame.ok) call.reply.resolve(frame.v);
        else call.reply.reject(new ActorError(knownCode(frame.code), frame.e));
        return;
      }
      case 'mon': {
        const key = `${frame.f}:${frame.i}`;
        const from = frame.f;
        const i = frame.i;
        const ref = this.system.refFor({ node: this.node, id: frame.to[0], kind: frame.to[1] });
        const unmonitor = this.system.monitor(ref, (reason) => {
          this.watched.delete(key);
          this.publish(from, controlBytes({ k: 'down', i, r: toWireReason(reason) }), undefined);
        });
        this.watched.set(key, unmonitor);
        return;
      }
      case 'demon': {
        const key = `${frame.f}:${frame.i}`;
        this.watched.get(key)?.();
        this.watched.delete(key);
        return;
      }
      case 'down': {
        const m = this.monitors.get(frame.i);
        if (!m) return;
        this.monitors.delete(frame.i);
        this.notify(m, frame.r as DownReason | WireDownReason as DownReason);
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

function wireHints(hints: Hints): WireHints | undefined {
  return hints.fanoutSize === undefined ? undefined : [hints.fanoutSize, hints.fanoutRate ?? 1];
}

function hintsOf(h: WireHints | undefined): Hints | undefined {
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
