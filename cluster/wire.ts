// What crosses NATS between nodes. One frame per NATS message:
//   byte 0      wire version (WIRE_VERSION); a receiver refuses (and counts) any other
//   bytes 1..   JSON (cluster/codec.ts), the message inside written once
// Trace context never goes in the body: a sampled delivery's W3C traceparent
// and tracestate travel as NATS headers, and only when sampled.
//
// Subjects, under a prefix (so that separate clusters, or test runs, never cross):
//   <prefix>.node.<node>   frames for one node
//   <prefix>.hb            heartbeats: the body is the sender's node name
//   <prefix>.bye           a node leaving cleanly: the body is its name
import type { DownReason, MessageOp } from '../actors/index.js';

export const WIRE_VERSION = 1;

/** [id, kind]: an address on the node a frame is sent to. */
export type Target = [id: string, kind: string];

/** Fanout hints of a kept delivery: [fanoutSize, fanoutRate]. */
export type WireHints = [size: number, rate: number];

export type Frame =
  /** One send, cast or call; `c` (correlation id) and `f` (reply node) for a call. */
  | { k: 'm'; op: MessageOp; to: Target; c?: number; f?: string; h?: WireHints; m: unknown }
  /** One broadcast's deliveries on this node: the message once, the targets, and which of them are kept in the trace. */
  | { k: 'b'; op: MessageOp; to: Target[]; kept?: number[]; h?: WireHints; m: unknown }
  /** The answer to call `c`. */
  | { k: 'r'; c: number; ok: true; v: unknown }
  | { k: 'r'; c: number; ok: false; code: string; e: string }
  /** Watch actor `to` for node `f`, as monitor `i`; and stop watching. */
  | { k: 'mon'; i: number; to: Target; f: string }
  | { k: 'demon'; i: number; f: string }
  /** Monitor `i`'s actor went down. */
  | { k: 'down'; i: number; r: WireDownReason };

/** A DownReason with the crash error reduced to its message (errors do not cross). */
export type WireDownReason = Exclude<DownReason, { type: 'crash' }> | { type: 'crash'; error: { message: string } };

export function toWireReason(reason: DownReason): WireDownReason {
  if (reason.type !== 'crash') return reason;
  const error = reason.error;
  return { type: 'crash', error: { message: error instanceof Error ? error.message : String(error) } };
}

const SUBJECT_TOKEN = /^[A-Za-z0-9_-]+$/;

/** Node names and prefix tokens are NATS subject tokens: no dots, spaces or wildcards. */
export function checkToken(what: string, value: string): string {
  if (!SUBJECT_TOKEN.test(value)) throw new RangeError(`${what} must be letters, digits, '-' or '_' (a NATS subject token), got ${JSON.stringify(value)}`);
  return value;
}

export const subjects = (prefix: string) => ({
  node: (node: string) => `${prefix}.node.${node}`,
  heartbeat: `${prefix}.hb`,
  bye: `${prefix}.bye`,
});

const encoder = new TextEncoder();

/** The frame bytes: version byte, then `head` + message text + `}`. */
export function frameBytes(head: string, messageText: string): Uint8Array {
  const body = encoder.encode(`${head}${messageText}}`);
  const out = new Uint8Array(body.length + 1);
  out[0] = WIRE_VERSION;
  out.set(body, 1);
  return out;
}

/** A frame without a message inside (replies without value, monitors): plain JSON. */
export function controlBytes(frame: Frame): Uint8Array {
  const body = encoder.encode(JSON.stringify(frame));
  const out = new Uint8Array(body.length + 1);
  out[0] = WIRE_VERSION;
  out.set(body, 1);
  return out;
}
