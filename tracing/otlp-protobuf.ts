// OTLP trace export request (ExportTraceServiceRequest) as protobuf bytes,
// written in one pass: what the gRPC exporter sends for every batch.
//
// Why our own: the exporter's serializer (@opentelemetry/otlp-transformer)
// walks every span twice (a size estimate, then the write) and writes every
// string a character at a time, attribute keys included: 10.7 µs per span of
// a broadcast's on Node 20, and the largest piece of what a sampled broadcast
// cost the server (bench/README.md, "The OTLP encode benchmark"). This one writes once into a reused buffer,
// keeps the encoded form of attribute keys (a handful of names, repeated on
// every span) and of a key's last field when its values repeat, and produces
// the same bytes: the tests compare the two.
//
// Wire format: https://protobuf.dev/programming-guides/encoding/ ; messages:
// opentelemetry/proto/collector/trace/v1/trace_service.proto, trace/v1/trace.proto,
// common/v1/common.proto, resource/v1/resource.proto.
import type { Attributes, AttributeValue, Link, SpanContext, SpanStatus } from '@opentelemetry/api';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';

import { I32, I64, INT64_LIMIT, INT64_MIN, LEN, PARENT_ID, TRACE_ID, VARINT, Writer, tag } from './protobuf-writer.js';
import { lastOfShape } from './shape-keeper.js';

// Span flags (trace.proto, SpanFlags): the low byte is the W3C trace flags.
const FLAGS_HAS_IS_REMOTE = 0x100;
const FLAGS_IS_REMOTE = 0x200;

// --- common.proto ---

function anyValue(w: Writer, value: unknown): void {
  switch (typeof value) {
    case 'string':
      w.uint32(tag(1, LEN));
      w.string(value);
      return;
    case 'boolean':
      w.uint32(tag(2, VARINT));
      w.uint32(value ? 1 : 0);
      return;
    case 'number':
      if (Number.isInteger(value) && value >= INT64_MIN && value < INT64_LIMIT) {
        w.uint32(tag(3, VARINT));
        w.int64(value);
      } else {
        w.uint32(tag(4, I64));
        w.double(value);
      }
      return;
  }
  if (value instanceof Uint8Array) {
    w.uint32(tag(7, LEN));
    w.bytes(value);
    return;
  }
  if (Array.isArray(value)) {
    w.uint32(tag(5, LEN));
    const array = w.begin(1);
    for (const item of value) {
      w.uint32(tag(1, LEN));
      const m = w.begin(1);
      anyValue(w, item);
      w.end(m, 1);
    }
    w.end(array, 1);
    return;
  }
  if (value !== null && typeof value === 'object') {
    // KeyValueList: its `values` (field 1) are KeyValues, as attributes are.
    w.uint32(tag(6, LEN));
    const list = w.begin(1);
    attributes(w, value as Attributes, 1);
    w.end(list, 1);
  }
  // null, undefined, anything else: an empty AnyValue, as the SDK's serializer writes it.
}

const hasOwn = Object.prototype.hasOwnProperty;

/** `repeated KeyValue` in field `field`. */
function attributes(w: Writer, attrs: Attributes, field: number): void {
  const fieldTag = tag(field, LEN);
  for (const k in attrs) {
    if (!hasOwn.call(attrs, k)) continue;
    const value = attrs[k];
    const entry = w.keyEntry(k);
    const primitive = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
    if (primitive && entry !== undefined && entry.field !== undefined && entry.value === value && entry.fieldTag === fieldTag) {
      // The same key and value as last time: the same bytes.
      entry.hits++;
      w.raw(entry.field);
      continue;
    }
    const start = w.pos;
    w.uint32(fieldTag);
    const kv = w.begin(1);
    w.key(k, entry);
    w.uint32(tag(2, LEN));
    const v = w.begin(1);
    anyValue(w, value as AttributeValue | undefined);
    w.end(v, 1);
    w.end(kv, 1);
    if (primitive && entry !== undefined && !entry.volatile) w.rememberField(entry, fieldTag, value, start);
  }
}

// --- trace.proto ---

const spanFlags = (traceFlags: number, isRemote: boolean | undefined): number =>
  (traceFlags & 0xff) | FLAGS_HAS_IS_REMOTE | (isRemote ? FLAGS_IS_REMOTE : 0);

function status(w: Writer, s: SpanStatus): void {
  const m = w.begin(1);
  if (s.message) {
    w.uint32(tag(2, LEN));
    w.string(s.message);
  }
  w.uint32(tag(3, VARINT));
  w.uint32(s.code);
  w.end(m, 1);
}

function event(w: Writer, e: TimedEvent): void {
  const m = w.begin(1);
  w.uint32(tag(1, I64));
  w.hrTime(e.time);
  w.uint32(tag(2, LEN));
  w.string(e.name);
  if (e.attributes) attributes(w, e.attributes, 3);
  w.uint32(tag(4, VARINT));
  w.uint32(e.droppedAttributesCount ?? 0);
  w.end(m, 1);
}

/** Fields 1-3 of a Span and of a Span.Link alike: trace_id, span_id, trace_state. */
function identity(w: Writer, c: SpanContext): void {
  w.uint32(tag(1, LEN));
  w.hexId(c.traceId, TRACE_ID);
  w.uint32(tag(2, LEN));
  w.hexId(c.spanId);
  const traceState = c.traceState?.serialize();
  if (traceState) {
    w.uint32(tag(3, LEN));
    w.string(traceState);
  }
}

function link(w: Writer, l: Link): void {
  const m = w.begin(1);
  const c = l.context;
  identity(w, c);
  if (l.attributes) attributes(w, l.attributes, 4);
  w.uint32(tag(5, VARINT));
  w.uint32(l.droppedAttributesCount ?? 0);
  w.uint32(tag(6, I32));
  w.fixed32(spanFlags(c.traceFlags, c.isRemote));
  w.end(m, 1);
}

function span(w: Writer, s: ReadableSpan): void {
  // Two length bytes: a span is 128 bytes to 16 KiB nearly always.
  const m = w.begin(2);
  const c = s.spanContext();
  identity(w, c);
  const parent = s.parentSpanContext;
  if (parent?.spanId) {
    w.uint32(tag(4, LEN));
    w.hexId(parent.spanId, PARENT_ID);
  }
  w.uint32(tag(5, LEN));
  w.string(s.name);
  // OTLP's SpanKind counts from SPAN_KIND_UNSPECIFIED = 0; the API's from INTERNAL = 0.
  const kind = s.kind == null ? 0 : s.kind + 1;
  if (kind !== 0) {
    w.uint32(tag(6, VARINT));
    w.uint32(kind);
  }
  w.uint32(tag(7, I64));
  w.hrTime(s.startTime);
  w.uint32(tag(8, I64));
  w.hrTime(s.endTime);
  if (s.attributes) attributes(w, s.attributes, 9);
  w.uint32(tag(10, VARINT));
  w.uint32(s.droppedAttributesCount);
  for (const e of s.events) {
    w.uint32(tag(11, LEN));
    event(w, e);
  }
  w.uint32(tag(12, VARINT));
  w.uint32(s.droppedEventsCount);
  for (const l of s.links) {
    w.uint32(tag(13, LEN));
    link(w, l);
  }
  w.uint32(tag(14, VARINT));
  w.uint32(s.droppedLinksCount);
  w.uint32(tag(15, LEN));
  status(w, s.status);
  w.uint32(tag(16, I32));
  w.fixed32(spanFlags(c.traceFlags, parent?.isRemote));
  w.end(m, 2);
}

type Scope = ReadableSpan['instrumentationScope'];
type Resource = ReadableSpan['resource'];

function scope(w: Writer, sc: Scope): void {
  w.uint32(tag(1, LEN));
  const m = w.begin(1);
  w.uint32(tag(1, LEN));
  w.string(sc.name);
  if (sc.version) {
    w.uint32(tag(2, LEN));
    w.string(sc.version);
  }
  const extra = sc as { attributes?: Attributes; droppedAttributesCount?: number };
  if (extra.attributes) attributes(w, extra.attributes, 3);
  if (extra.droppedAttributesCount) {
    w.uint32(tag(4, VARINT));
    w.uint32(extra.droppedAttributesCount);
  }
  w.end(m, 1);
}

function resource(w: Writer, r: Resource): void {
  w.uint32(tag(1, LEN));
  const m = w.begin(2);
  if (r.attributes) attributes(w, r.attributes, 1);
  w.uint32(tag(2, VARINT));
  w.uint32(0);
  w.end(m, 2);
}

/**
 * A span encoded when it ended (`ScopeSpans.spans`: tag, length and the Span
 * message), with what places it in a request. Encoding then, rather than when
 * its batch is exported, reads the span while it is still in the cache and
 * lets the span's objects go at once instead of after the export.
 *
 * The bytes are `buf[start, end)`: spans are encoded one after another into a
 * shared slab (see encodeSpan), not one buffer each, so a span leaves one
 * small object behind, and the spans of a batch are mostly one run of bytes.
 */
export class EncodedSpan {
  constructor(
    readonly resource: Resource,
    readonly instrumentationScope: Scope,
    readonly buf: Uint8Array,
    readonly start: number,
    readonly end: number,
  ) {}

  get bytes(): Uint8Array {
    return this.buf.subarray(this.start, this.end);
  }
}

/** What a request is made of: spans, or spans encoded as they ended. */
export type ExportableSpan = ReadableSpan | EncodedSpan;

/** Spans grouped by resource, then by scope, by identity, in first-seen order. */
function group<T extends ExportableSpan>(spans: readonly T[]): Map<Resource, Map<Scope, T[]>> {
  const byResource = new Map<Resource, Map<Scope, T[]>>();
  for (const s of spans) {
    let byScope = byResource.get(s.resource);
    if (!byScope) byResource.set(s.resource, (byScope = new Map()));
    const list = byScope.get(s.instrumentationScope);
    if (list) list.push(s);
    else byScope.set(s.instrumentationScope, [s]);
  }
  return byResource;
}

const writer = new Writer();
/**
 * Spans are encoded one after the other into this writer's buffer (a slab),
 * which is never reset: each EncodedSpan keeps the slab it is in, and a new
 * slab is started when fewer than SLAB_MIN_ROOM bytes are left. A span that
 * outgrows the slab grows it (the spans already in the old one keep theirs).
 * Its own writer: a span ends (and is encoded) in the middle of anything, a
 * request's encoding included.
 */
const spanWriter = new Writer();
const SLAB_BYTES = 64 * 1024;
const SLAB_MIN_ROOM = 4 * 1024;

/** `s` encoded for a later request (encodeTraceExportRequest takes it as it would `s`). */
export function encodeSpan(s: ReadableSpan): EncodedSpan {
  const w = spanWriter;
  if (w.buf.length - w.pos < SLAB_MIN_ROOM) w.fresh(SLAB_BYTES);
  const start = w.pos;
  w.uint32(tag(2, LEN)); // ScopeSpans.spans
  span(w, s);
  // The last one is kept, so that its shape outlives a stretch without sampled work (shape-keeper.ts).
  return (lastOfShape.encoded = new EncodedSpan(s.resource, s.instrumentationScope, w.buf, start, w.pos));
}

/** Bytes the encoder holds between requests (bounded: see MAX_KEPT_BYTES). */
export function encoderRetainedBytes(): number {
  return writer.buf.length + spanWriter.buf.length;
}

/**
 * `spans` as an ExportTraceServiceRequest: the same bytes as the OTLP
 * exporter's own serializer, in one pass. Spans already encoded are copied
 * in as they are.
 */
export function encodeTraceExportRequest(spans: readonly ExportableSpan[]): Uint8Array {
  const w = writer;
  w.reset();
  for (const [res, byScope] of group(spans)) {
    w.uint32(tag(1, LEN)); // resource_spans
    const rs = w.begin(3);
    resource(w, res);
    for (const [sc, list] of byScope) {
      w.uint32(tag(2, LEN)); // scope_spans
      const ss = w.begin(3);
      scope(w, sc);
      for (let i = 0; i < list.length; i++) {
        const s = list[i]!;
        if (s instanceof EncodedSpan) {
          // Spans encoded one after the other in one slab are copied as one run.
          let end = s.end;
          while (i + 1 < list.length) {
            const t = list[i + 1];
            if (!(t instanceof EncodedSpan) || t.buf !== s.buf || t.start !== end) break;
            end = t.end;
            i++;
          }
          w.raw(s.buf, s.start, end);
          continue;
        }
        w.uint32(tag(2, LEN)); // spans
        span(w, s);
      }
      if (sc.schemaUrl) {
        w.uint32(tag(3, LEN));
        w.string(sc.schemaUrl);
      }
      w.end(ss, 3);
    }
    if (res.schemaUrl) {
      w.uint32(tag(3, LEN));
      w.string(res.schemaUrl);
    }
    w.end(rs, 3);
  }
  return w.take();
}
