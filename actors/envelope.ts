// The Envelope: a message plus an optional W3C trace carrier and small routing
// hints. Only the tracing layer creates carriers; the runtime just knows how to
// take the message out, so instrumented and uninstrumented code interoperate.

/** W3C Trace Context headers, as text (https://www.w3.org/TR/trace-context/). */
export interface Carrier {
  // Read-only: one carrier is shared by every envelope sent from one context.
  readonly traceparent: string;
  readonly tracestate?: string;
  /**
   * Epoch ms at which the sending span started, when it started in this
   * process. The receiver's span start is computed from the mailbox's clock,
   * which is not the span clock; it is clamped to this so that a child never
   * precedes its parent. In-process only: never serialised.
   */
  readonly startedAt?: number;
}

/** Small hints that travel with a message. */
export interface Hints {
  /** Number of recipients of the broadcast this delivery belongs to. */
  fanoutSize?: number;
  /** Probability with which this delivery was kept in the trace. */
  fanoutRate?: number;
}

// Envelopes are recognised by a brand on their prototype, not by instanceof:
// every message is checked on send and on receive, and V8's optimiser leaves
// `x instanceof ImportedClass` as a generic lookup (about 10 ns, more for a
// number) where this is a property load. Symbol.for also lets two copies of
// this module (two installs in one process) read each other's envelopes.
const BRAND = Symbol.for('guildhall.envelope');

export class Envelope<M = unknown> {
  constructor(
    readonly message: M,
    readonly carrier?: Carrier,
    readonly hints?: Hints,
  ) {}
}
Object.defineProperty(Envelope.prototype, BRAND, { value: true });

// The last payload found bare. The brand is read from whatever a sender sent,
// every kind of message, so V8 can only load it generically (a megamorphic
// lookup), and a delivery is checked more than once on its way to the actor.
// A broadcast hands one message object to every recipient: after the first,
// the same object is answered by one comparison. (An object's prototype, which
// holds the brand, does not change, so neither does the answer.)
let lastBare: unknown;

export function isEnvelope(payload: unknown): payload is Envelope {
  if (payload === lastBare || typeof payload !== 'object' || payload === null) return false;
  if ((payload as { [BRAND]?: unknown })[BRAND] === true) return true;
  lastBare = payload;
  return false;
}

/** The message inside `payload`, whether it came enveloped or bare. */
export function unwrap<M = unknown>(payload: unknown): M {
  return (isEnvelope(payload) ? payload.message : payload) as M;
}
