// What a process span (one handled message) says, shared by the spans the
// Transport makes while a message is handled and the ones tail capture
// records after the fact: the same attributes, and the same clock rule.
import type { Attributes, Span } from '@opentelemetry/api';
import type { Address, MailboxEntry } from '../actors/index.js';
import {
  ATTR_ACTOR_ID,
  ATTR_ACTOR_KIND,
  ATTR_MAILBOX_DEPTH,
  ATTR_MAILBOX_WAIT_MS,
  ATTR_MESSAGE_KIND,
  ATTR_MESSAGE_OP,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  MESSAGING_SYSTEM,
} from './conventions.js';

/** `type` of a message object when it has a string one (`MESSAGE_CREATE`, `connect`), else undefined. */
function messageKind(message: unknown): string | undefined {
  if (message !== null && typeof message === 'object') {
    const t = (message as { type?: unknown }).type;
    if (typeof t === 'string') return t;
  }
  return undefined;
}

/** Start attributes of the span of one handled message. */
export function processAttributes(entry: MailboxEntry, actor: Address, message: unknown, waitMs: number): Attributes {
  return {
    [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM,
    [ATTR_MESSAGING_OPERATION_TYPE]: 'process',
    [ATTR_MESSAGING_OPERATION_NAME]: entry.op,
    [ATTR_MESSAGING_DESTINATION_NAME]: actor.kind,
    [ATTR_ACTOR_KIND]: actor.kind,
    [ATTR_ACTOR_ID]: actor.id,
    [ATTR_MESSAGE_OP]: entry.op,
    [ATTR_MESSAGE_KIND]: messageKind(message) ?? entry.op,
    [ATTR_MAILBOX_WAIT_MS]: waitMs,
    [ATTR_MAILBOX_DEPTH]: entry.depth,
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
