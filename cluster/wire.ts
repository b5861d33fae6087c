// What crosses NATS between nodes. One frame per NATS message, carrying one or
// more items for the receiving node, handled in order:
//   byte 0      wire version (WIRE_VERSION); a receiver refuses (and counts) any other
//   bytes 1..   UTF-8: the header (plain JSON: the items, the broadcasts'
//               target lists, and who sent them), then, for each item that
//               carries a message or a value, "\n" and that message's JSON
//               (cluster/codec.ts)
// A target list is defined once per pair of nodes and then named by id
// (cluster/target-lists.ts): the header says which node and incarnation sent
// it, since ids belong to the sender's incarnation.
// The header holds no refs or wire types, so it is read with a plain
// JSON.parse; only the message texts go through the codec's reviver.
// JSON.stringify never writes a raw newline, so "\n" only ever separates texts.
// Trace context never goes in the body: a sampled delivery's W3C traceparent
// and tracestate travel as NATS headers, and only when sampled (such a frame
// carries that one item).
//
// Subjects, under a prefix (so that separate clusters, or test runs, never cross):
//   <prefix>.node.<node>   frames for one node
//   <prefix>.hb            heartbeats: the body is the sender's node name
//   <prefix>.bye           a node leaving cleanly: the body is its name
import type { DownReason, MessageOp } from '../actors/index.js';
import type { ListSpec } from './target-lists.js';

/**
 * 3: target lists defined once and named by id. 2 (lists in every frame) and
 * 1 (one JSON text, one item) are refused.
 */
export const WIRE_VERSION = 3;

/** [id, kind]: an address on the node a frame is sent to. */
export type Target = [id: string, kind: string];

/** A broadcast's targets on one node, as runs of one kind: [[kind, [id, ...]], ...]. */
export type WireTargets = [kind: string, ids: string[]][];

/** The same runs of the same targets, in order (the same array included). */
export function sameTargets(a: WireTargets, b: WireTargets): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let r = 0; r < a.length; r++) {
    const [kindA, idsA] = a[r]!;
    const [kindB, idsB] = b[r]!;
    if (kindA !== kindB || idsA.length !== idsB.length) return false;
    for (let j = 0; j < idsA.length; j++) if (idsA[j] !== idsB[j]) return false;
  }
  return true;
}

/** Fanout hints of a kept delivery: [fanoutSize, fanoutRate]. */
export type WireHints = [size: number, rate: number];

export type FrameItem =
  /** One send, cast or call; `c` (correlation id) and `f` (reply node) for a call. The message is the next text. */
  | { k: 'm'; op: MessageOp; to: Target; c?: number; f?: string; h?: WireHints }
  /** One broadcast's deliveries on this node: to the frame's target list `t` (an index into the header's `t`); `kept` indexes the list. The message is the next text. */
  | { k: 'b'; op: MessageOp; t: number; kept?: number[]; h?: WireHints }
  /** The answer to call `c`; when ok, the value is the next text. */
  | { k: 'r'; c: number; ok: true }
  | { k: 'r'; c: number; ok: false; code: string; e: string }
  /** Watch actor `to` for node `f`, as monitor `i`; and stop watching. */
  | { k: 'mon'; i: number; to: Target; f: string }
  | { k: 'demon'; i: number; f: string }
  /** Monitor `i`'s actor went down. */
  | { k: 'down'; i: number; r: WireDownReason }
  /** Node `f` lacks target lists `r` of this node's incarnation `s`: send them again (an answer frame). */
  | { k: 'relist'; s: string; r: number[]; f: string };

/** A frame's header: its items in order and the target lists its broadcasts share. */
export interface FrameHeader {
  i: FrameItem[];
  t?: ListSpec[];
  /** The sending node and its incarnation: present when `t` is. */
  f?: string;
  s?: string;
  /** 1: an answer to a `relist` (no items; `t` defines lists or says they are gone), applied on arrival. */
  a?: 1;
}

/** Whether an item is followed by a message text. */
export function carriesText(item: FrameItem): boolean {
  return item.k === 'm' || item.k === 'b' || (item.k === 'r' && item.ok);
}

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

/**
 * The frame bytes: `items` are the items' JSON texts, `lists` the target
 * list specs' JSON texts (ListSpec), `texts` the message texts in item order;
 * `origin` is the header's sender fields (originOf), written with the lists.
 */
export function frameBytes(items: readonly string[], lists: readonly string[], texts: readonly string[], origin = ''): Uint8Array {
  let header = `{"i":[${items.join(',')}]`;
  if (lists.length > 0) header += `,"t":[${lists.join(',')}]`;
  header += `${origin}}`;
  const body = encoder.encode(texts.length === 0 ? header : `${header}\n${texts.join('\n')}`);
  const out = new Uint8Array(body.length + 1);
  out[0] = WIRE_VERSION;
  out.set(body, 1);
  return out;
}

/** The header fields naming the sender and its incarnation. */
export function originOf(node: string, incarnation: string): string {
  return `,"f":${JSON.stringify(node)},"s":${JSON.stringify(incarnation)}`;
}

/** Splits a frame's text (after the version byte) into its header and message texts; throws on anything malformed. */
export function splitFrame(text: string): { header: FrameHeader; texts: string[] } {
  const parts = text.split('\n');
  const header = JSON.parse(parts[0]!) as FrameHeader;
  if (header === null || typeof header !== 'object' || !Array.isArray(header.i)) throw new TypeError('a frame header is {"i":[...]}');
  if (header.t !== undefined && !Array.isArray(header.t)) throw new TypeError('a frame header\'s "t" is a list of target lists');
  if (header.t !== undefined && (typeof header.f !== 'string' || typeof header.s !== 'string')) throw new TypeError('a frame with target lists names its sender and incarnation');
  let needed = 0;
  for (const item of header.i) {
    if (item === null || typeof item !== 'object') throw new TypeError('a frame item is an object');
    if (carriesText(item)) needed++;
  }
  if (needed !== parts.length - 1) throw new TypeError(`a frame with ${needed} message texts has ${parts.length - 1}`);
  parts.shift();
  return { header, texts: parts };
}
