// The one relay point every actor-to-actor message passes through: send,
// cast, call and broadcast. Interceptors (the tracing layer's Transport,
// metrics, a test's recorder) plug in here, so this runtime never imports
// OpenTelemetry. Their hooks are composed into plain functions when an
// interceptor is installed or removed, never per message.
import { isEnvelope } from './envelope.js';
import type { MailboxEntry, MessageOp } from './mailbox.js';
import type { ActorRef, Address } from './ref.js';

/** Hands a (possibly enveloped) payload to the actor. */
export type Handle = (payload: unknown) => unknown;

/** The rest of the inbound chain, ending at the actor: call it exactly once. */
export type InboundNext = (entry: MailboxEntry, actor: Address, payload: unknown, handle: Handle) => unknown;

/** Where one delivery of a broadcast goes: a local mailbox, or a remote node's batch. */
export type DeliverySink = (target: Address, op: MessageOp, payload: unknown) => boolean;

export interface BroadcastOptions {
  /** How each delivery is sent (default `cast`). */
  op?: Extract<MessageOp, 'cast' | 'info'>;
  /** Labels for whoever observes the broadcast (the Transport's fanout span: the guild id, say). */
  attributes?: Readonly<Record<string, string | number | boolean>>;
}

export interface BroadcastResult {
  /** Deliveries accepted (by a local mailbox, or handed to a remote node's batch). */
  delivered: number;
  /** Deliveries kept in the trace (0 when the broadcast was not sampled). */
  kept: number;
}

export interface Interceptor {
  /**
   * Runs synchronously inside `send`/`cast`/`call`, in the sender's async
   * context. Returns the payload to enqueue: the message itself or an Envelope.
   * For broadcast deliveries it runs too, unless this interceptor has `fanout`.
   */
  outbound?(message: unknown, target: Address, op: MessageOp): unknown;
  /**
   * Plans a broadcast, in the sender's context: decides each delivery's
   * payload and hands it to `deliver`, once per target, in order. At most one
   * installed interceptor may have it; for broadcast deliveries it replaces
   * this interceptor's `outbound` (the other interceptors' `outbound` still
   * see every delivery, composed into `deliver`).
   */
  fanout?(targets: readonly ActorRef<never>[], message: unknown, op: MessageOp, options: BroadcastOptions, deliver: DeliverySink): BroadcastResult;
  /**
   * Runs when `entry` is handled. Must call `next(entry, actor, payload', handle)`
   * exactly once and return its result, which may be a promise when the
   * handler is async. `entry` is valid during this call only: the runtime
   * uses it again for another message once handled (copy what is needed later).
   */
  inbound?(entry: MailboxEntry, actor: Address, payload: unknown, next: InboundNext, handle: Handle): unknown;
  /**
   * False while `inbound` has nothing to do with bare payloads (anything but
   * an Envelope): the relay then passes them on without calling it, so
   * untraced messages, the common case, pay no interceptor call (except one
   * that waited at least `slowMs`: a slow message may start a trace). Read for
   * every message, so its value may change at any time; absent when the
   * interceptor is installed means true for as long as it stays installed.
   */
  readonly inboundBare?: boolean;
}

/** Told of each message whose wait plus handling reached the threshold it was installed with. */
export interface SlowWatcher {
  /**
   * `endedAt` is on the mailbox's clock, as are the entry's enqueuedAt and
   * dequeuedAt. `entry` is valid during this call only (it is then used again).
   */
  slow(entry: MailboxEntry, actor: Address, endedAt: number): void;
}

/** What the relay hands prepared payloads to: the actor system. */
export interface RelayHost {
  deliver(target: Address, op: MessageOp, payload: unknown): boolean;
}

type Outbound = (message: unknown, target: Address, op: MessageOp) => unknown;
type Fanout = (targets: readonly ActorRef<never>[], message: unknown, op: MessageOp, options: BroadcastOptions) => BroadcastResult;

const identity: Outbound = (message) => message;
const atActor: InboundNext = (_entry, _actor, payload, handle) => handle(payload);

export class Relay {
  /**
   * Tail capture threshold in ms (Infinity: none). A message that waited at
   * least this long reaches the inbound interceptors even when bare (a slow
   * message may start a trace), and one whose wait plus handling reached it
   * is reported to the watcher when done.
   */
  slowMs = Infinity;
  private watcher: SlowWatcher | undefined;
  private interceptors: readonly Interceptor[] = [];
  // The composed hooks: rebuilt by use() and its undo, read for every message.
  private composedOutbound: Outbound = identity;
  private composedInbound: InboundNext = atActor;
  private composedFanout: Fanout;

  constructor(private readonly host: RelayHost) {
    this.composedFanout = this.composeFanout();
  }

  /** Installs an interceptor (after those already installed); returns a function that removes it. */
  use(interceptor: Interceptor): () => void {
    if (interceptor.fanout && this.interceptors.some((i) => i.fanout)) throw new Error('the relay already has an interceptor that plans broadcasts (fanout)');
    this.interceptors = [...this.interceptors, interceptor];
    this.compose();
    return () => {
      this.interceptors = this.interceptors.filter((i) => i !== interceptor);
      this.compose();
    };
  }

  /** Installs the one slow-message watcher; returns a function that removes it. */
  watchSlow(thresholdMs: number, watcher: SlowWatcher): () => void {
    if (!(thresholdMs > 0)) throw new RangeError(`slow threshold must be positive, got ${thresholdMs}`);
    this.watcher = watcher;
    this.slowMs = thresholdMs;
    return () => {
      if (this.watcher !== watcher) return;
      this.watcher = undefined;
      this.slowMs = Infinity;
    };
  }

  /** Called by the cell for a slow message; a failing watcher never fails the actor. */
  slow(entry: MailboxEntry, actor: Address, endedAt: number): void {
    try {
      this.watcher?.slow(entry, actor, endedAt);
    } catch {
      // Tail capture is observability: it must not break serving.
    }
  }

  /** The payload to enqueue for `message`: every outbound hook, in install order. */
  outbound(message: unknown, target: Address, op: MessageOp): unknown {
    return this.composedOutbound(message, target, op);
  }

  /**
   * Passes `entry` through the inbound hooks (first installed runs first) to
   * `handle`, which takes the payload (enveloped or bare) and normalises it for the actor.
   */
  inbound(entry: MailboxEntry, actor: Address, handle: Handle): unknown {
    return this.composedInbound(entry, actor, entry.payload, handle);
  }

  /** One broadcast: planned by the fanout hook (if any), each delivery through the other outbound hooks to the host. */
  broadcast(targets: readonly ActorRef<never>[], message: unknown, op: MessageOp, options: BroadcastOptions): BroadcastResult {
    return this.composedFanout(targets, message, op, options);
  }

  private compose(): void {
    const all = this.interceptors;
    this.composedOutbound = chainOutbound(all.filter((i) => i.outbound));
    let inbound = atActor;
    const inbounds = all.filter((i) => i.inbound);
    for (let i = inbounds.length - 1; i >= 0; i--) inbound = inboundStep(this, inbounds[i]!, inbound);
    this.composedInbound = inbound;
    this.composedFanout = this.composeFanout();
  }

  private composeFanout(): Fanout {
    const host = this.host;
    const planner = this.interceptors.find((i) => i.fanout);
    // Outbound hooks of the interceptors that do not plan broadcasts see each delivery.
    const observers = this.interceptors.filter((i) => i.outbound && i !== planner);
    const outbound = observers.length === 0 ? undefined : chainOutbound(observers);
    const deliver: DeliverySink =
      outbound === undefined ? (target, op, payload) => host.deliver(target, op, payload) : (target, op, payload) => host.deliver(target, op, outbound(payload, target, op));
    if (planner) return (targets, message, op, options) => planner.fanout!(targets, message, op, options, deliver);
    // No planner: a broadcast is one plain send per target.
    const send: DeliverySink = (target, op, message) => host.deliver(target, op, this.composedOutbound(message, target, op));
    return (targets, message, op) => {
      let delivered = 0;
      for (let i = 0; i < targets.length; i++) if (send(targets[i]!.address, op, message)) delivered++;
      return { delivered, kept: 0 };
    };
  }
}

function chainOutbound(chain: readonly Interceptor[]): Outbound {
  if (chain.length === 0) return identity;
  if (chain.length === 1) {
    const only = chain[0]!;
    return (message, target, op) => only.outbound!(message, target, op);
  }
  return (message, target, op) => {
    let payload = message;
    for (let i = 0; i < chain.length; i++) payload = chain[i]!.outbound!(payload, target, op);
    return payload;
  };
}

// One link of the inbound chain, made once per install. Two function literals,
// not one with a branch: V8 keeps type feedback per literal, so each link's
// calls stay monomorphic in the server's wiring (metrics, then the Transport)
// and inline, where one shared literal would see both interceptors at every
// call. An interceptor that skips bare payloads is passed over for them,
// unless the message waited past the relay's slow threshold (checked per
// message: both may change).
function inboundStep(relay: Relay, interceptor: Interceptor, next: InboundNext): InboundNext {
  if (!('inboundBare' in interceptor)) return (entry, actor, payload, handle) => interceptor.inbound!(entry, actor, payload, next, handle);
  return (entry, actor, payload, handle) => {
    if (interceptor.inboundBare === false && !isEnvelope(payload) && entry.dequeuedAt - entry.enqueuedAt < relay.slowMs) return next(entry, actor, payload, handle);
    return interceptor.inbound!(entry, actor, payload, next, handle);
  };
}
