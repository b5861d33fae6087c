// Tail capture: the deliveries an operator cares about most, the slow ones,
// are exactly the ones fanout sampling usually drops. Two rules, one budget:
// - a broadcast delivery that sampling did not keep but whose mailbox wait
//   plus handling (which includes the socket write) reached the threshold is
//   recorded after the fact, as a child of its broadcast's fanout span (or,
//   with deliveryRoots, as a root tagged like the broadcast when that was not
//   sampled);
// - a message that waited at least the threshold in a watched mailbox (the
//   server watches guilds) under no sampled trace starts a root and is
//   handled inside it, so its trace shows what it went on to do.
// Both are marked guildhall.tail=true and share TailLimiter's per-second
// budget. The runtime measures (the cell reads the clock as it takes a
// message out and, with a watch installed, once more when it is done); this
// records. When nothing is slow the cost is the runtime's one comparison.
import { type Attributes, ROOT_CONTEXT, type SpanContext, SpanKind, type Tracer, trace } from '@opentelemetry/api';
import { type ActorSystem, type Address, isEnvelope, type MailboxEntry, type SlowWatcher } from '../actors/index.js';
import { ATTR_FANOUT_SIZE, ATTR_HANDLE_MS, ATTR_TAIL, processSpanName } from './conventions.js';
import { epochOf, processAttributes } from './process-span.js';
import { TailLimiter } from './tail-limiter.js';
import { isSampledTraceparent } from './traceparent.js';

export const DEFAULT_TAIL_MAX_PER_SECOND = 100;

export interface TailOptions {
  /** A message whose mailbox wait plus handling reaches this many ms is slow (0: tail capture off). */
  thresholdMs: number;
  /** Tail spans per second per process (default 100); the rest are counted, not recorded. */
  maxPerSecond?: number;
  /** A slow delivery of an unsampled broadcast starts a root tagged with the broadcast's attributes (default false). */
  deliveryRoots?: boolean;
  /**
   * Which actors start a root when a message waited at least thresholdMs in
   * their mailbox under no sampled trace, and what the root is tagged with
   * (undefined: not this actor). The server says guilds, tagged with their id.
   */
  mailboxRoots?: (actor: Address) => Attributes | undefined;
}

export interface TailStats {
  /** Tail spans recorded (slow deliveries and mailbox roots). */
  recorded: number;
  /** Slow messages that got no span because the per-second budget was spent. */
  limited: number;
}

/** What a delivery needs to record itself after the fact, found from the message all deliveries share. */
interface BroadcastRef {
  /** The fanout span's context; undefined when the broadcast was not sampled. */
  readonly parent: SpanContext | undefined;
  /** Epoch ms at which the fanout span started. */
  readonly startedAt: number | undefined;
  readonly size: number;
  readonly attributes: Attributes | undefined;
}

export class TailCapture implements SlowWatcher {
  readonly thresholdMs: number;
  readonly deliveryRoots: boolean;
  private readonly limiter: TailLimiter;
  private readonly mailboxRoots: TailOptions['mailboxRoots'];
  /**
   * Broadcast message -> its fanout. A WeakMap rather than a field on the
   * message: the message is the sender's object, and the entry goes when the
   * last delivery is done with it. One set per broadcast, one get per slow
   * delivery, nothing per delivery.
   */
  private readonly broadcasts = new WeakMap<object, BroadcastRef>();

  constructor(
    private readonly system: ActorSystem,
    private readonly tracer: Tracer,
    private readonly enabled: () => boolean,
    options: TailOptions,
  ) {
    if (!(options.thresholdMs > 0)) throw new RangeError(`tail threshold must be positive, got ${options.thresholdMs}`);
    this.thresholdMs = options.thresholdMs;
    this.deliveryRoots = options.deliveryRoots ?? false;
    this.limiter = new TailLimiter(options.maxPerSecond ?? DEFAULT_TAIL_MAX_PER_SECOND);
    this.mailboxRoots = options.mailboxRoots;
  }

  get stats(): TailStats {
    return { recorded: this.limiter.granted, limited: this.limiter.refused };
  }

  /** Remembers a broadcast for its deliveries; `fanout` is its span's context (undefined: not sampled). */
  noteBroadcast(message: unknown, fanout: SpanContext | undefined, startedAt: number | undefined, size: number, attributes: Attributes | undefined): void {
    if (typeof message === 'object' && message !== null) this.broadcasts.set(message, { parent: fanout, startedAt, size, attributes });
  }

  /** The root attributes for a long mailbox wait at `actor`, when its kind is watched and the budget allows. */
  mailboxRoot(actor: Address): Attributes | undefined {
    const attributes = this.mailboxRoots?.(actor);
    if (attributes === undefined || !this.limiter.take(this.system.clock.now())) return undefined;
    return { ...attributes, [ATTR_TAIL]: true };
  }

  /** SlowWatcher: records a slow broadcast delivery that has no span of its own. */
  slow(entry: MailboxEntry, actor: Address, endedAt: number): void {
    if (!this.enabled()) return;
    let message = entry.payload;
    if (isEnvelope(message)) {
      const carrier = message.carrier;
      // A kept delivery: its process span already shows the wait.
      if (carrier !== undefined && isSampledTraceparent(carrier.traceparent)) return;
      message = message.message;
    }
    if (message === null || typeof message !== 'object') return;
    const broadcast = this.broadcasts.get(message);
    if (broadcast === undefined || !this.limiter.take(endedAt)) return;
    const waitMs = Math.max(0, entry.dequeuedAt - entry.enqueuedAt);
    const handleMs = Math.max(0, endedAt - entry.dequeuedAt);
    const startTime = epochOf(entry.enqueuedAt, this.system.clock.now(), broadcast.startedAt);
    const root = broadcast.parent === undefined;
    const parent = root ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, broadcast.parent);
    const attributes: Attributes = {
      ...(root ? broadcast.attributes : undefined),
      ...processAttributes(entry, actor, message, waitMs),
      [ATTR_HANDLE_MS]: handleMs,
      [ATTR_TAIL]: true,
    };
    const span = this.tracer.startSpan(processSpanName(actor.kind), { kind: SpanKind.CONSUMER, startTime, attributes }, parent);
    // After start, as for a kept delivery: a FanoutSampler must not decide it again.
    span.setAttribute(ATTR_FANOUT_SIZE, broadcast.size);
    span.addEvent('mailbox.dequeued', startTime + waitMs);
    span.end(startTime + waitMs + handleMs);
  }
}
