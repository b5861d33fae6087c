// Span names and attribute keys. Follows OpenTelemetry's messaging semantic
// conventions where they fit (https://opentelemetry.io/docs/specs/semconv/messaging/messaging-spans/);
// the rest live under `guildhall.*`.

export const TRACER_NAME = 'guildhall';

export const ATTR_MESSAGING_SYSTEM = 'messaging.system';
export const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
export const ATTR_MESSAGING_OPERATION_NAME = 'messaging.operation.name';
export const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
export const ATTR_MESSAGING_BATCH_COUNT = 'messaging.batch.message_count';
export const MESSAGING_SYSTEM = 'guildhall.actors';

export const ATTR_ACTOR_KIND = 'guildhall.actor.kind';
export const ATTR_ACTOR_ID = 'guildhall.actor.id';
/** `type` of the message when it has one, else the op (`call`, `cast`, `info`). */
export const ATTR_MESSAGE_KIND = 'guildhall.message.kind';
export const ATTR_MESSAGE_OP = 'guildhall.message.op';
/** Milliseconds the message waited in the mailbox before handling began. */
export const ATTR_MAILBOX_WAIT_MS = 'guildhall.mailbox.wait_ms';
/** Entries already waiting when this message was enqueued. */
export const ATTR_MAILBOX_DEPTH = 'guildhall.mailbox.depth';
/** Milliseconds spent handling (the span also starts at enqueue time, so duration = wait + handling). */
export const ATTR_HANDLE_MS = 'guildhall.handle_ms';

/** Recipients of the broadcast a span belongs to. */
export const ATTR_FANOUT_SIZE = 'guildhall.fanout.size';
/** Probability with which each delivery was kept. */
export const ATTR_FANOUT_RATE = 'guildhall.fanout.rate';
/** 1 / rate: how many deliveries one kept delivery stands for. */
export const ATTR_FANOUT_ADJUSTED_COUNT = 'guildhall.fanout.adjusted_count';
/** Deliveries kept in the trace by this broadcast. */
export const ATTR_FANOUT_KEPT = 'guildhall.fanout.kept';

export const ATTR_GUILD_ID = 'guildhall.guild.id';

/**
 * true on a span recorded because its message was slow (tail capture), not
 * because sampling kept it: such spans are not a random sample, so backends
 * must not scale them by an adjusted count.
 */
export const ATTR_TAIL = 'guildhall.tail';

/**
 * Names made once per kind and kept: a span name is asked for on every kept
 * delivery and fanout, and a concatenation is a new string each time.
 * Bounded: actor kinds are a handful, but nothing stops a caller from using many.
 */
const MAX_NAMES = 256;
const processNames = new Map<string, string>();
const fanoutNames = new Map<string, string>();

function named(names: Map<string, string>, prefix: string, kind: string): string {
  let name = names.get(kind);
  if (name === undefined) {
    name = `${prefix} ${kind}`;
    if (names.size < MAX_NAMES) names.set(kind, name);
  }
  return name;
}

/** `process guild`, after the semconv `{operation} {destination}` rule. */
export function processSpanName(actorKind: string): string {
  return named(processNames, 'process', actorKind);
}

export function fanoutSpanName(recipientKind: string): string {
  return named(fanoutNames, 'fanout', recipientKind);
}
