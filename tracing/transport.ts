// The Transport: trace context through mailboxes, after Discord's Transport
// library. It plugs into the actor system's relay point as one interceptor
// with three hooks, so actor code sends plain messages and never touches
// OpenTelemetry:
//
// - outbound (send, cast, call): the carrier is attached ONLY when the
//   sender's active span is sampled; unsampled work sends the bare message
//   (no serialisation at all).
// - inbound: enveloped and bare messages alike. A handler runs in the context
//   it was sent with, or in the ROOT context, never in whatever drained the
//   mailbox. One CONSUMER span per handled sampled message, starting at
//   enqueue time, with mailbox wait, handling time and depth as attributes.
// - fanout (system.broadcast): each delivery kept with p = min(1, K/N) under
//   one fanout span, decided here at the sender with the global N, whichever
//   node each target lives on (the relay's sink batches remote ones per node).
// - Tail capture: a delivery that fanout sampling dropped but that turned out
//   slow is recorded after the fact as a child of its fanout span, and a
//   message that waited too long in a mailbox of a chosen kind (guilds) under
//   no sampled trace starts a root (tail-capture.ts).
import {
  type AttributeValue,
  type Attributes,
  type Context,
  type ContextManager,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  type SpanOptions,
  SpanStatusCode,
  TraceFlags,
  type Tracer,
  context,
  createContextKey,
  trace,
} from '@opentelemetry/api';
import {
  type ActorRef,
  type ActorSystem,
  type Address,
  type BroadcastOptions,
  type BroadcastResult,
  type Carrier,
  type DeliverySink,
  Envelope,
  type Handle,
  type InboundNext,
  isEnvelope,
  type Interceptor,
  type MailboxEntry,
  type MessageOp,
} from '../actors/index.js';
import {
  ATTR_FANOUT_KEPT,
  ATTR_HANDLE_MS,
  MESSAGING_SYSTEM,
  TRACER_NAME,
  fanoutSpanName,
  processSpanName,
} from './conventions.js';
import type {
  ATTR_FANOUT_RATE,
  ATTR_FANOUT_SIZE,
  ATTR_MESSAGING_BATCH_COUNT,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
} from './conventions.js';
import type { DebugSampling } from './debug-sampling.js';
import { FanoutSampler } from './fanout-sampler.js';
import { LeanContext } from './lean-context.js';
import { LeanTracer } from './lean-tracer.js';
import { deliveryAttributes, epochOf, processAttributes, startedAtOf } from './process-span.js';
import { lastOfShape } from './shape-keeper.js';
import { TailCapture, type TailOptions, type TailStats } from './tail-capture.js';
import { formatTraceparent, isSampledTraceparent, parseTraceparent } from './traceparent.js';

export interface TransportOptions {
  tracer?: Tracer;
  /** Decides which fanout deliveries are kept; its K is the per-broadcast budget. */
  sampler?: FanoutSampler;
  /** Start switched on (default true). */
  enabled?: boolean;
  /**
   * Debug windows: a fanout whose attributes belong to an open window keeps
   * every delivery (rate 1), and a bare message to an actor in an open window
   * starts a root trace (the operator asked for everything of that key).
   */
  debug?: DebugSampling;
  /**
   * The globally registered context manager, to be read directly: every send
   * reads the active context, and `context.active()` adds a global lookup
   * and an API version check to each read (about 6 ns on Node 20, a quarter
   * of what tracing adds to an unsampled send). Checked once, here: ignored
   * unless it is the manager `context.with` enters, so the wrong one costs
   * only speed.
   */
  contextManager?: ContextManager;
  /** Tail capture of slow messages; absent or thresholdMs 0: off. */
  tail?: TailOptions;
}

/** Broadcast options as the Transport reads them: `attributes` go on the fanout span. */
export type FanoutOptions = BroadcastOptions;
export type FanoutResult = BroadcastResult;

interface Thenable {
  then(ok: (v: unknown) => unknown, err: (e: unknown) => unknown): unknown;
}

function isSampled(span: Span | undefined): span is Span {
  return span !== undefined && (span.spanContext().traceFlags & TraceFlags.SAMPLED) !== 0;
}

const PROBE = createContextKey('guildhall.transport.probe');

/** True when `manager` is the one `context.with` enters, so reading it directly is right. */
function isGlobalManager(manager: ContextManager): boolean {
  const probe = ROOT_CONTEXT.setValue(PROBE, true);
  return context.with(probe, () => manager.active() === probe);
}

/**
 * The parent context each carrier made in this process stands for, as
 * parsing its traceparent and tracestate would give it (a remote parent, the
 * sampled flag alone): a delivery in this process reads it here instead of
 * parsing the text. A carrier from another node (deserialised) is not here.
 */
const parentOfCarrier = new WeakMap<Carrier, Context>();

function carrierOf(span: Span): Carrier {
  const sc = span.spanContext();
  const traceparent = formatTraceparent(sc);
  const tracestate = sc.traceState?.serialize();
  const startedAt = startedAtOf(span);
  const carrier: { traceparent: string; tracestate?: string; startedAt?: number } = { traceparent };
  if (tracestate) carrier.tracestate = tracestate;
  if (startedAt !== undefined) carrier.startedAt = startedAt;
  const parsed: SpanContext = { traceId: sc.traceId, spanId: sc.spanId, traceFlags: sc.traceFlags & TraceFlags.SAMPLED, isRemote: true };
  if (tracestate) parsed.traceState = sc.traceState;
  parentOfCarrier.set(carrier, trace.setSpanContext(LeanContext.ROOT, parsed));
  // Kept: its shape (optional fields added after the literal) is reached only through a weak map
  // transition, and code specialised for it would go once no carrier is left alive (shape-keeper.ts).
  lastOfShape.carrier = carrier;
  return carrier;
}




type FanoutAttributeKey =
  | typeof ATTR_MESSAGING_SYSTEM
  | typeof ATTR_MESSAGING_OPERATION_TYPE
  | typeof ATTR_MESSAGING_DESTINATION_NAME
  | typeof ATTR_MESSAGING_BATCH_COUNT
  | typeof ATTR_FANOUT_SIZE
  | typeof ATTR_FANOUT_RATE;

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * A fanout span's start attributes: ours, and the broadcast's own where they
 * do not name one of ours (ours win, as they did spread after them). Keys
 * spelled out, not computed, and no second spread: V8 defines computed keys
 * of a literal, and the properties of a spread into an object that already
 * has some, one runtime call at a time. The type holds the keys to the
 * conventions.
 */
function fanoutAttributes(own: Attributes | undefined, kind: string, n: number, rate: number): Attributes {
  const attributes: Record<FanoutAttributeKey, AttributeValue> & Attributes = {
    'messaging.system': MESSAGING_SYSTEM,
    'messaging.operation.type': 'send',
    'messaging.destination.name': kind,
    'messaging.batch.message_count': n,
    'guildhall.fanout.size': n,
    'guildhall.fanout.rate': rate,
  };
  if (own !== undefined) for (const k in own) if (hasOwn.call(own, k) && !hasOwn.call(attributes, k)) attributes[k] = own[k];
  return attributes;
}

export class Transport implements Interceptor {
  /** Runtime switch: when false only bare messages are sent and no actor spans are made. */
  enabled: boolean;
  readonly sampler: FanoutSampler;
  readonly debug: DebugSampling | undefined;
  private readonly tracer: Tracer;
  /** Where the active context is read: the context manager itself, or the API. */
  private readonly contexts: Pick<ContextManager, 'active'>;
  private uninstall: (() => void) | undefined;
  // One-entry cache for outbound(): the last active context and its carrier (see carrierFor).
  private lastContext: Context = ROOT_CONTEXT;
  private lastCarrier: Carrier | undefined = undefined;
  // One-entry cache for inbound(): the last carrier's traceparent and tracestate, and their parent context.
  private lastTraceparent = '';
  private lastTracestate: string | undefined = undefined;
  private lastParent: Context | undefined = undefined;
  /** Tail threshold in ms; Infinity when tail capture is off (the one comparison then never passes). */
  private readonly slowMs: number;
  private readonly tail: TailCapture | undefined;
  private uninstallSlow: (() => void) | undefined;

  constructor(
    private readonly system: ActorSystem,
    options: TransportOptions = {},
  ) {
    this.tracer = options.tracer ?? trace.getTracer(TRACER_NAME);
    this.sampler = options.sampler ?? new FanoutSampler();
    this.enabled = options.enabled ?? true;
    this.debug = options.debug;
    const manager = options.contextManager;
    this.contexts = manager !== undefined && isGlobalManager(manager) ? manager : context;
    const tail = options.tail;
    this.tail = tail !== undefined && tail.thresholdMs > 0 ? new TailCapture(system, this.tracer, () => this.enabled, tail) : undefined;
    this.slowMs = this.tail?.thresholdMs ?? Infinity;
  }

  /** Plugs into the system's relay point (and, with tail capture, its slow-message watch). Idempotent. */
  install(): this {
    this.uninstall ??= this.system.relay.use(this);
    if (this.tail !== undefined) this.uninstallSlow ??= this.system.relay.watchSlow(this.tail.thresholdMs, this.tail);
    return this;
  }

  remove(): void {
    this.uninstall?.();
    this.uninstall = undefined;
    this.uninstallSlow?.();
    this.uninstallSlow = undefined;
  }

  /** Tail spans recorded and refused for budget (zeros when tail capture is off). */
  get tailStats(): TailStats {
    return this.tail?.stats ?? { recorded: 0, limited: 0 };
  }

  /**
   * Bare messages matter to the Transport only while a debug window may be
   * open (one can make a bare message the root of a trace): otherwise the
   * relay hands them to the actor without calling inbound().
   */
  get inboundBare(): boolean {
    const debug = this.debug;
    return debug !== undefined && debug.size !== 0 && this.enabled;
  }

  outbound(message: unknown, _target: Address, _op: MessageOp): unknown {
    // Every send passes here: the unsampled path is two loads and two compares
    // after the context read, and the function stays small enough for V8 to
    // inline it into the send (the rest is out of line).
    if (!this.enabled) return message;
    const active = this.contexts.active();
    const carrier = active === this.lastContext ? this.lastCarrier : this.carrierFor(active);
    return carrier === undefined ? message : this.enveloped(message, carrier);
  }

  /**
   * The carrier for `active` (undefined unless its span is sampled), cached:
   * contexts are immutable, so it stays right for as long as that context is
   * active, and a loop of sends in one handler reads the span and formats
   * traceparent once.
   */
  private carrierFor(active: Context): Carrier | undefined {
    const span = trace.getSpan(active);
    this.lastCarrier = isSampled(span) ? carrierOf(span) : undefined;
    this.lastContext = active;
    return this.lastCarrier;
  }

  private enveloped(message: unknown, carrier: Carrier): unknown {
    // An envelope passed on as is keeps the context it was made with.
    return isEnvelope(message) ? message : new Envelope(message, carrier);
  }

  inbound(entry: MailboxEntry, actor: Address, payload: unknown, next: InboundNext, handle: Handle): unknown {
    // No context: run as is. The scheduler drains from a clean async scope, so
    // the handler already runs in the ROOT context (actors/scheduler.ts).
    if (!this.enabled) return next(entry, actor, payload, handle);
    if (!isEnvelope(payload)) return this.untraced(entry, actor, payload, next, handle);
    const carrier = payload.carrier;
    // Fast path: the sampled flag decides before any parse or context object.
    if (!carrier || !isSampledTraceparent(carrier.traceparent)) return this.untraced(entry, actor, payload, next, handle);
    const parent = this.parentOf(carrier);
    if (parent === undefined) return next(entry, actor, payload, handle);
    return this.traced(entry, actor, payload.message, payload, payload.hints, parent, next, handle, carrier.startedAt);
  }

  /**
   * The remote parent context a carrier names, or undefined when it does not
   * parse. A carrier made in this process was read when it was made (the
   * deliveries of two broadcasts, or of a broadcast and a handler's sends,
   * interleave, and a one-entry cache missed nearly every time). One from
   * another node is parsed; the last one's context is kept, for the kept
   * deliveries of its broadcast that share it.
   */
  private parentOf(carrier: Carrier): Context | undefined {
    const made = parentOfCarrier.get(carrier);
    if (made !== undefined) return made;
    const { traceparent, tracestate } = carrier;
    if (traceparent === this.lastTraceparent && tracestate === this.lastTracestate) return this.lastParent;
    const parsed = parseTraceparent(traceparent, tracestate);
    const parent = parsed === undefined ? undefined : trace.setSpanContext(LeanContext.ROOT, parsed);
    this.lastTraceparent = traceparent;
    this.lastTracestate = tracestate;
    this.lastParent = parent;
    return parent;
  }

  /**
   * A message without (sampled) context: handled as is, unless it waited too
   * long in a mailbox that tail capture watches, or a debug window is open for
   * this actor; either makes it the root of a new trace.
   */
  private untraced(entry: MailboxEntry, actor: Address, payload: unknown, next: InboundNext, handle: Handle): unknown {
    if (entry.dequeuedAt - entry.enqueuedAt >= this.slowMs) {
      const tagged = this.tail?.mailboxRoot(actor);
      if (tagged !== undefined) return this.traced(entry, actor, isEnvelope(payload) ? payload.message : payload, payload, undefined, ROOT_CONTEXT, next, handle, undefined, tagged);
    }
    const debug = this.debug;
    if (debug === undefined || debug.size === 0 || !debug.activeForActor(actor.kind, actor.id)) return next(entry, actor, payload, handle);
    const message = isEnvelope(payload) ? payload.message : payload;
    return this.traced(entry, actor, message, payload, undefined, ROOT_CONTEXT, next, handle);
  }

  private traced(
    entry: MailboxEntry,
    actor: Address,
    message: unknown,
    payload: unknown,
    hints: Envelope['hints'],
    parent: Context,
    next: InboundNext,
    handle: Handle,
    parentStartedAt?: number,
    extra?: Attributes,
  ): unknown {
    const handleStart = this.system.clock.now();
    const waitMs = Math.max(0, handleStart - entry.enqueuedAt);
    const fanoutSize = hints?.fanoutSize;
    const attributes: Attributes =
      fanoutSize === undefined ? processAttributes(entry, actor, message, waitMs) : deliveryAttributes(entry, actor, message, waitMs, fanoutSize, hints!.fanoutRate ?? 1);
    if (extra !== undefined) Object.assign(attributes, extra);
    // The span starts when the message was enqueued, so its bar shows the wait.
    // Epoch times come from Date.now(), as the SDK's own span clocks do: with a
    // given start time the SDK ends spans at Date.now(), and timeOrigin-based
    // times drift from it (by 100+ ms in long-lived workers), which stretched
    // these bars. The dequeue event and the end are set from the same base,
    // and the start is never before the parent's (see epochOf).
    const startTime = epochOf(entry.enqueuedAt, handleStart, parentStartedAt);
    const span = this.startOwning(processSpanName(actor.kind), { kind: SpanKind.CONSUMER, startTime, attributes }, parent);
    const dequeuedAt = startTime + waitMs;
    span.addEvent('mailbox.dequeued', dequeuedAt);

    let result: unknown;
    try {
      result = context.with(trace.setSpan(parent, span), next, undefined, entry, actor, payload, handle);
    } catch (err) {
      this.finish(span, handleStart, dequeuedAt, err);
      throw err;
    }
    if (result !== null && typeof result === 'object' && typeof (result as Thenable).then === 'function') {
      return (result as Thenable).then(
        (value) => {
          this.finish(span, handleStart, dequeuedAt, undefined);
          return value;
        },
        (err) => {
          this.finish(span, handleStart, dequeuedAt, err);
          throw err;
        },
      );
    }
    this.finish(span, handleStart, dequeuedAt, undefined);
    return result;
  }

  /**
   * Ends a handled message's span: handling time, the error if it threw, and
   * the end at its dequeue time plus the handling (one clock base). A method,
   * not a closure made per kept delivery.
   */
  private finish(span: Span, handleStart: number, dequeuedAt: number, error: unknown): void {
    const handleMs = this.system.clock.now() - handleStart;
    span.setAttribute(ATTR_HANDLE_MS, handleMs);
    if (error !== undefined) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    }
    span.end(dequeuedAt + handleMs);
  }

  /** startSpan with attributes made for this span alone: the lean tracer takes them without a copy. */
  private startOwning(name: string, options: SpanOptions, parent: Context): Span {
    const tracer = this.tracer;
    return tracer instanceof LeanTracer ? tracer.startSpanOwning(name, options, parent) : tracer.startSpan(name, options, parent);
  }

  /**
   * The relay's fanout hook (system.broadcast): decides each delivery's
   * payload and hands it to `deliver`. When the active span is sampled, one
   * fanout span is made and each delivery is kept with p = min(1, K/N), N the
   * whole broadcast (all nodes): kept deliveries share one envelope carrying
   * the fanout span's context, the rest go bare. Unsampled or switched off:
   * bare deliveries only, no span.
   */
  fanout(refs: readonly ActorRef<never>[], message: unknown, op: MessageOp, options: BroadcastOptions, deliver: DeliverySink): BroadcastResult {
    const n = refs.length;
    let delivered = 0;
    const active = this.contexts.active();
    const parent = trace.getSpan(active);
    if (n === 0 || !this.enabled || !isSampled(parent)) {
      // Slow deliveries of unsampled broadcasts may become roots: they need the broadcast's attributes.
      if (n > 0 && this.enabled && this.tail?.deliveryRoots === true) this.tail.noteBroadcast(message, undefined, undefined, n, options.attributes);
      for (let i = 0; i < n; i++) if (deliver(refs[i]!.address, op, message)) delivered++;
      return { delivered, kept: 0 };
    }

    // An open debug window keeps every delivery of its broadcasts.
    const debug = this.debug;
    const rate = debug !== undefined && debug.size !== 0 && debug.activeKeyOf(options.attributes) !== undefined ? 1 : this.sampler.rate(n);
    const kind = refs[0]!.address.kind;
    const span = this.startOwning(
      fanoutSpanName(kind),
      {
        kind: SpanKind.PRODUCER,
        attributes: fanoutAttributes(options.attributes, kind, n, rate),
      },
      active,
    );
    const carrier = carrierOf(span);
    const kept = new Envelope(message, carrier, { fanoutSize: n, fanoutRate: rate });
    lastOfShape.envelope = kept;
    // Every delivery shares `message`: one reference to the fanout, for the slow ones to find.
    this.tail?.noteBroadcast(message, span.spanContext(), carrier.startedAt, n, options.attributes);
    let keptCount = 0;
    let next = this.sampler.skip(rate);
    for (let i = 0; i < n; i++) {
      let payload: unknown = message;
      if (i === next) {
        payload = kept;
        keptCount++;
        next = i + 1 + this.sampler.skip(rate);
      }
      if (deliver(refs[i]!.address, op, payload)) delivered++;
    }
    span.setAttribute(ATTR_FANOUT_KEPT, keptCount);
    span.end();
    return { delivered, kept: keptCount };
  }

  /**
   * Runs `fn` in a child span of the active span, only when that span is
   * sampled; otherwise just runs `fn`. Never starts a root: a fanned-out
   * delivery that arrived without context stays untraced.
   */
  childSpan<T>(name: string, attributes: Attributes, fn: () => T): T {
    const active = this.contexts.active();
    if (!this.enabled || !isSampled(trace.getSpan(active))) return fn();
    const span = this.tracer.startSpan(name, { kind: SpanKind.INTERNAL, attributes }, active);
    try {
      return context.with(trace.setSpan(active, span), fn);
    } catch (err) {
      span.recordException(err instanceof Error ? err : String(err));
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw err;
    } finally {
      span.end();
    }
  }

  /**
   * Records an event on the active span when it is sampled; builds the
   * attributes only then. Far cheaper than a child span, for points in time
   * (a frame queued for a socket) rather than durations.
   */
  event(name: string, attributes: () => Attributes): void {
    if (!this.enabled) return;
    const span = trace.getSpan(this.contexts.active());
    if (isSampled(span)) span.addEvent(name, attributes());
  }
}
