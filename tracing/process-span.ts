// What a process span (one handled message) says, shared by the spans the
// Transport makes while a message is handled and the ones tail capture
// records after the fact: the same attributes, and the same clock rule.
import type { AttributeValue, Span } from '@opentelemetry/api';
import type { Address, MailboxEntry } from '../actors/index.js';
import { MESSAGING_SYSTEM } from './conventions.js';
import type {
  ATTR_ACTOR_ID,
  ATTR_ACTOR_KIND,
  ATTR_FANOUT_ADJUSTED_COUNT,
  ATTR_FANOUT_RATE,
  ATTR_FANOUT_SIZE,
  ATTR_MAILBOX_DEPTH,
  ATTR_MAILBOX_WAIT_MS,
  ATTR_MESSAGE_KIND,
  ATTR_MESSAGE_OP,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
} from './conventions.js';

/** `type` of a message object when it has a string one (`MESSAGE_CREATE`, `connect`), else undefined. */
function messageKind(message: unknown): string | undefined {
  if (message !== null && typeof message === 'object') {
    const t = (message as { type?: unknown }).type;
    if (typeof t === 'string') return t;
  }
  return undefined;
}

type ProcessAttributeKey =
  | typeof ATTR_MESSAGING_SYSTEM
  | typeof ATTR_MESSAGING_OPERATION_TYPE
  | typeof ATTR_MESSAGING_OPERATION_NAME
  | typeof ATTR_MESSAGING_DESTINATION_NAME
  | typeof ATTR_ACTOR_KIND
  | typeof ATTR_ACTOR_ID
  | typeof ATTR_MESSAGE_OP
  | typeof ATTR_MESSAGE_KIND
  | typeof ATTR_MAILBOX_WAIT_MS
  | typeof ATTR_MAILBOX_DEPTH;

/**
 * Start attributes of the span of one handled message. The keys are spelled
 * out rather than computed (`[ATTR_ACTOR_KIND]: ...`): V8 builds a literal
 * with computed keys one runtime property definition at a time, and this
 * object is made for every kept delivery. The type holds them to the
 * conventions: a misspelt or missing key does not compile.
 */
export function processAttributes(entry: MailboxEntry, actor: Address, message: unknown, waitMs: number): Record<ProcessAttributeKey, AttributeValue> {
  return {
    'messaging.system': MESSAGING_SYSTEM,
    'messaging.operation.type': 'process',
    'messaging.operation.name': entry.op,
    'messaging.destination.name': actor.kind,
    'guildhall.actor.kind': actor.kind,
    'guildhall.actor.id': actor.id,
    'guildhall.message.op': entry.op,
    'guildhall.message.kind': messageKind(message) ?? entry.op,
    'guildhall.mailbox.wait_ms': waitMs,
    'guildhall.mailbox.depth': entry.depth,
  };
}

type DeliveryAttributeKey = ProcessAttributeKey | typeof ATTR_FANOUT_SIZE | typeof ATTR_FANOUT_RATE | typeof ATTR_FANOUT_ADJUSTED_COUNT;

/**
 * Start attributes of a kept delivery of a broadcast: a process span's, and
 * the broadcast's size and the rate its sender kept it with, in one literal
 * (set one by one after the start, each grew the object's shape). A
 * FanoutSampler takes a start rate as the sender's decision (fanout-sampler.ts).
 */
export function deliveryAttributes(
  entry: MailboxEntry,
  actor: Address,
  message: unknown,
  waitMs: number,
  fanoutSize: number,
  rate: number,
): Record<DeliveryAttributeKey, AttributeValue> {
  return {
    'messaging.system': MESSAGING_SYSTEM,
    'messaging.operation.type': 'process',
    'messaging.operation.name': entry.op,
    'messaging.destination.name': actor.kind,
    'guildhall.actor.kind': actor.kind,
    'guildhall.actor.id': actor.id,
    'guildhall.message.op': entry.op,
    'guildhall.message.kind': messageKind(message) ?? entry.op,
    'guildhall.mailbox.wait_ms': waitMs,
    'guildhall.mailbox.depth': entry.depth,
    'guildhall.fanout.size': fanoutSize,
    'guildhall.fanout.rate': rate,
    'guildhall.fanout.adjusted_count': rate > 0 ? 1 / rate : 0,
  };
}

/** Epoch ms at which an SDK span started (its public ReadableSpan.startTime), if it says. */
export function startedAtOf(span: Span): number | undefined {
  const t = (span as { startTime?: unknown }).startTime;
  return Array.isArray(t) && t.length === 2 ? (t[0] as number) * 1000 + (t[1] as number) / 1e6 : undefined;
}

/**
 * Epoch ms of a moment on the mailbox's clock, for a span start. Date.now()
 * based, as the SDK's own span clocks are (with a given start time the SDK
 * ends spans at Date.now(), and timeOrigin-based times drift from it, by 100+
 * ms in long-lived workers). Never before `notBefore`, the parent's start:
 * the two clocks differ (Date.now() is whole milliseconds, the mailbox clock
 * is not), which put a child up to a millisecond before its parent.
 */
export function epochOf(clockAt: number, clockNow: number, notBefore: number | undefined): number {
  const t = Date.now() - (clockNow - clockAt);
  return notBefore !== undefined && t < notBefore ? notBefore : t;
}
