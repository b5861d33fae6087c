// OTLP trace export request (ExportTraceServiceRequest) as protobuf bytes,
// written in one pass: what the gRPC exporter sends for every batch.
//
// Why our own: the exporter's serializer (@opentelemetry/otlp-transformer)
// walks every span twice (a size estimate, then the write) and writes every
// string a character at a time, attribute keys included: 10.7 µs per span of
// a broadcast's on Node 20, and the largest piece of what a sampled broadcast
// cost the server (README.md, Benchmarks). This one writes once into a reused buffer,
// keeps the encoded form of attribute keys (a handful of names, repeated on
// every span), and produces the same bytes: the tests compare the two.
//
// Wire format: https://protobuf.dev/programming-guides/encoding/ ; messages:
// opentelemetry/proto/collector/trace/v1/trace_service.proto, trace/v1/trace.proto,
// common/v1/common.proto, resource/v1/resource.proto.
import type { Attributes, AttributeValue, HrTime, Link, SpanContext, SpanStatus } from '@opentelemetry/api';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';

// Wire types.
const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

const tag = (field: number, wire: number): number => (field << 3) | wire;

// Span flags (trace.proto, SpanFlags): the low byte is the W3C trace flags.
const FLAGS_HAS_IS_REMOTE = 0x100;
const FLAGS_IS_REMOTE = 0x200;

/** The writer's buffer: a 512-span batch of broadcast spans is about 300 KiB. */
const INITIAL_BYTES = 64 * 1024;
/** A buffer grown past this by an unusually large request is not kept for the next. */
const MAX_KEPT_BYTES = 4 * 1024 * 1024;

/** Distinct attribute keys whose encoding is kept; past this, keys are written each time. */
const MAX_CACHED_KEYS = 512;

const INT64_MIN = -(2 ** 63);
const INT64_LIMIT = 2 ** 63;

/** Writes protobuf into one growing buffer, reused from one request to the next. */
class Writer {
  buf: Buffer = Buffer.allocUnsafe(INITIAL_BYTES);
  pos = 0;
  /** `KeyValue.key` (tag, length, bytes) of attribute keys seen before. */
  private readonly keys = new Map<string, Buffer>();

  reset(): void {
    this.pos = 0;
  }

  /** The bytes written, copied out (the buffer is reused, unless one huge request grew it). */
  take(): Uint8Array {
    const out = Buffer.from(this.buf.subarray(0, this.pos));
    if (this.buf.length > MAX_KEPT_BYTES) this.buf = Buffer.allocUnsafe(INITIAL_BYTES);
    return out;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** An unsigned varint below 2^32. */
  uint32(v: number): void {
    this.ensure(5);
    const b = this.buf;
    let p = this.pos;
    while (v > 0x7f) {
      b[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[p++] = v;
    this.pos = p;
  }

  /** A varint of any integer in int64 range (negatives as two's complement, 10 bytes). */
  int64(value: number): void {
    if (value >= 0 && value <= 0xffffffff) return this.uint32(value);
    let low: number;
    let high: number;
    if (value >= 0) {
      low = value >>> 0;
      high = (value / 0x100000000) >>> 0;
    } else {
      const abs = Math.abs(value);
      low = ~(abs >>> 0) >>> 0;
      high = ~((abs / 0x100000000) >>> 0) >>> 0;
      low = (low + 1) >>> 0;
      if (low === 0) high = (high + 1) >>> 0;
    }
    this.ensure(10);
    const b = this.buf;
    let p = this.pos;
    while (high > 0 || low > 0x7f) {
      b[p++] = (low & 0x7f) | 0x80;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    b[p++] = low & 0x7f;
    this.pos = p;
  }

  fixed32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
  }

  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  /** [seconds, nanoseconds] as fixed64 Unix nanoseconds, exact (no float rounding). */
  hrTime(t: HrTime): void {
    // seconds * 1e9 overflows 2^53, so seconds is split into 16-bit halves,
    // each product stays exact, and the 64-bit sum is carried by hand.
    const seconds = t[0];
    const lowSecNanos = (seconds & 0xffff) * 1e9;
    const highSecNanos = ((seconds / 0x10000) >>> 0) * 1e9;
    const low = (lowSecNanos >>> 0) + ((((highSecNanos & 0xffff) * 0x10000) >>> 0) + t[1]);
    const carry = Math.floor(low / 0x100000000);
    const high = (Math.floor(lowSecNanos / 0x100000000) + ((highSecNanos / 0x10000) >>> 0) + carry) >>> 0;
    this.ensure(8);
    this.buf.writeUInt32LE(low >>> 0, this.pos);
    this.buf.writeUInt32LE(high, this.pos + 4);
    this.pos += 8;
  }

  /** A length-delimited UTF-8 string; ASCII (nearly everything) in one pass. */
  string(s: string): void {
    const n = s.length;
    if (n < 0x80) {
      // Optimistically: one length byte, then the characters while they are ASCII.
      this.ensure(n + 1);
      const b = this.buf;
      const start = this.pos;
      let p = start + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c > 0x7f) break;
        b[p++] = c;
      }
      if (i === n) {
        b[start] = n;
        this.pos = p;
        return;
      }
    }
    const bytes = Buffer.byteLength(s, 'utf8');
    this.uint32(bytes);
    this.ensure(bytes);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** Length-delimited bytes. */
  bytes(v: Uint8Array): void {
    this.uint32(v.length);
    this.ensure(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
  }

  /** A trace or span id from its hex, as length-delimited bytes (as the SDK's serializer reads hex). */
  hexId(hex: string): void {
    const n = hex.length >>> 1;
    this.ensure(n + 1);
    const b = this.buf;
    let p = this.pos;
    b[p++] = n;
    for (let i = 0; i < 2 * n; i += 2) b[p++] = (nibble(hex.charCodeAt(i)) << 4) | nibble(hex.charCodeAt(i + 1));
    this.pos = p;
  }

  /**
   * Reserves `reserve` bytes for the length of a message about to be written;
   * returns where. A guess at the length's size, so that the body is seldom
   * moved: end() moves it when the length needs more or fewer bytes.
   */
  begin(reserve: number): number {
    this.ensure(reserve);
    const mark = this.pos;
    this.pos += reserve;
    return mark;
  }

  /** Writes the length of the message begun at `mark` with `reserve` bytes. */
  end(mark: number, reserve: number): void {
    const bodyStart = mark + reserve;
    const length = this.pos - bodyStart;
    const size = varintSize(length);
    if (size !== reserve) {
      this.ensure(size - reserve);
      this.buf.copyWithin(mark + size, bodyStart, this.pos);
      this.pos += size - reserve;
    }
    const b = this.buf;
    let p = mark;
    let v = length;
    while (v > 0x7f) {
      b[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[p] = v;
  }

  /** Bytes already encoded, as they are. */
  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** `KeyValue.key` of an attribute: cached bytes for keys seen before. */
  key(k: string): void {
    let encoded = this.keys.get(k);
    if (encoded === undefined) {
      const start = this.pos;
      this.uint32(tag(1, LEN));
      this.string(k);
      if (this.keys.size >= MAX_CACHED_KEYS) return;
      encoded = Buffer.from(this.buf.subarray(start, this.pos));
      this.keys.set(k, encoded);
      return;
    }
    this.ensure(encoded.length);
    this.buf.set(encoded, this.pos);
    this.pos += encoded.length;
  }
}

function nibble(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  return c - 55;
}

function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

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

/** `repeated KeyValue` in field `field`. */
function attributes(w: Writer, attrs: Attributes, field: number): void {
  for (const k in attrs) {
    if (!Object.prototype.hasOwnProperty.call(attrs, k)) continue;
    w.uint32(tag(field, LEN));
    const kv = w.begin(1);
    w.key(k);
    w.uint32(tag(2, LEN));
    const v = w.begin(1);
    anyValue(w, attrs[k] as AttributeValue | undefined);
    w.end(v, 1);
    w.end(kv, 1);
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
  w.hexId(c.traceId);
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
    w.hexId(parent.spanId);
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
 */
export class EncodedSpan {
  constructor(
    readonly resource: Resource,
    readonly instrumentationScope: Scope,
    readonly bytes: Uint8Array,
  ) {}
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
/** Its own writer: a span ends (and is encoded) in the middle of anything, a request's encoding included. */
const spanWriter = new Writer();

/** `s` encoded for a later request (encodeTraceExportRequest takes it as it would `s`). */
export function encodeSpan(s: ReadableSpan): EncodedSpan {
  const w = spanWriter;
  w.reset();
  w.uint32(tag(2, LEN)); // ScopeSpans.spans
  span(w, s);
  return new EncodedSpan(s.resource, s.instrumentationScope, w.take());
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
      for (const s of list) {
        if (s instanceof EncodedSpan) {
          w.raw(s.bytes);
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
