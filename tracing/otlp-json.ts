// OTLP/JSON encoding of stored spans, so a trace shown by the built-in viewer can
// be downloaded and imported into any OTLP backend (Jaeger, Tempo, a Collector's
// otlpjsonfile receiver...).
//
// Follows https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding, i.e. the
// proto3 JSON mapping of ExportTraceServiceRequest with OTLP's deviations:
// - trace and span ids are lowercase hex, not base64;
// - enums (span kind, status code) are integers, not names;
// - field names are lowerCamelCase.
// From the proto3 mapping: 64-bit integers (the *UnixNano fixed64 times and
// intValue) are decimal strings, since JSON numbers lose precision beyond 2^53.
import type { Attributes } from '@opentelemetry/api';
import type { StoredSpan } from './trace-store.js';

export type OtlpAnyValue =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: string }
  | { doubleValue: number | 'NaN' | 'Infinity' | '-Infinity' }
  | { arrayValue: { values: OtlpAnyValue[] } }
  | { kvlistValue: { values: OtlpKeyValue[] } }
  | { bytesValue: string }
  | Record<string, never>;

export interface OtlpKeyValue {
  key: string;
  value: OtlpAnyValue;
}

export interface OtlpJsonSpan {
  traceId: string;
  spanId: string;
  traceState?: string;
  parentSpanId?: string;
  flags: number;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: OtlpKeyValue[];
  droppedAttributesCount?: number;
  events: {
    timeUnixNano: string;
    name: string;
    attributes: OtlpKeyValue[];
    droppedAttributesCount?: number;
  }[];
  droppedEventsCount?: number;
  links: {
    traceId: string;
    spanId: string;
    traceState?: string;
    attributes: OtlpKeyValue[];
    droppedAttributesCount?: number;
    flags: number;
  }[];
  droppedLinksCount?: number;
  status: { code: number; message?: string };
}

export interface OtlpJsonScopeSpans {
  scope: { name: string; version?: string };
  spans: OtlpJsonSpan[];
  schemaUrl?: string;
}

export interface OtlpJsonResourceSpans {
  resource: { attributes: OtlpKeyValue[] };
  scopeSpans: OtlpJsonScopeSpans[];
}

export interface OtlpJsonTraceRequest {
  resourceSpans: OtlpJsonResourceSpans[];
}

// Span flags as the SDK's protobuf exporter writes them: the W3C trace flags in the
// low byte, plus "we know whether the parent was remote" and "it was".
const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;
// Both bounds are powers of two, so exact as doubles.
const MIN_INT64 = -(2 ** 63);
const MAX_INT64 = 2 ** 63;

/**
 * Builds an ExportTraceServiceRequest object; JSON.stringify it for the wire.
 * Spans are grouped by resource and then by instrumentation scope, as an exporter would.
 */
export function toOtlpJson(spans: readonly StoredSpan[]): OtlpJsonTraceRequest {
  const byResource = new Map<string, { resource: Attributes; scopes: Map<string, OtlpJsonScopeSpans> }>();
  for (const span of spans) {
    const resourceKey = stableKey(span.resource);
    let group = byResource.get(resourceKey);
    if (!group) {
      group = { resource: span.resource, scopes: new Map() };
      byResource.set(resourceKey, group);
    }
    const scopeKey = JSON.stringify([span.scope.name, span.scope.version ?? '', span.scope.schemaUrl ?? '']);
    let scopeSpans = group.scopes.get(scopeKey);
    if (!scopeSpans) {
      scopeSpans = { scope: { name: span.scope.name }, spans: [] };
      if (span.scope.version) scopeSpans.scope.version = span.scope.version;
      if (span.scope.schemaUrl) scopeSpans.schemaUrl = span.scope.schemaUrl;
      group.scopes.set(scopeKey, scopeSpans);
    }
    scopeSpans.spans.push(encodeSpan(span));
  }
  return {
    resourceSpans: [...byResource.values()].map((g) => ({
      resource: { attributes: encodeAttributes(g.resource) },
      scopeSpans: [...g.scopes.values()],
    })),
  };
}

function encodeSpan(span: StoredSpan): OtlpJsonSpan {
  const out: OtlpJsonSpan = {
    traceId: span.traceId,
    spanId: span.spanId,
    flags: spanFlags(span.traceFlags, span.parentIsRemote),
    name: span.name,
    // The API's SpanKind starts at INTERNAL = 0; OTLP reserves 0 for UNSPECIFIED.
    kind: span.kind + 1,
    startTimeUnixNano: span.startTimeUnixNano,
    endTimeUnixNano: span.endTimeUnixNano,
    attributes: encodeAttributes(span.attributes),
    events: span.events.map((e) => ({
      timeUnixNano: e.timeUnixNano,
      name: e.name,
      attributes: encodeAttributes(e.attributes),
      ...(e.droppedAttributesCount ? { droppedAttributesCount: e.droppedAttributesCount } : {}),
    })),
    links: span.links.map((l) => ({
      traceId: l.traceId,
      spanId: l.spanId,
      ...(l.traceState ? { traceState: l.traceState } : {}),
      attributes: encodeAttributes(l.attributes),
      ...(l.droppedAttributesCount ? { droppedAttributesCount: l.droppedAttributesCount } : {}),
      flags: spanFlags(l.traceFlags, l.isRemote),
    })),
    // API SpanStatusCode (UNSET 0, OK 1, ERROR 2) has the same numbers as OTLP's.
    status: span.status.message ? { code: span.status.code, message: span.status.message } : { code: span.status.code },
  };
  if (span.traceState) out.traceState = span.traceState;
  if (span.parentSpanId) out.parentSpanId = span.parentSpanId;
  if (span.droppedAttributesCount) out.droppedAttributesCount = span.droppedAttributesCount;
  if (span.droppedEventsCount) out.droppedEventsCount = span.droppedEventsCount;
  if (span.droppedLinksCount) out.droppedLinksCount = span.droppedLinksCount;
  return out;
}

function spanFlags(traceFlags: number, isRemote: boolean | undefined): number {
  let flags = (traceFlags & 0xff) | HAS_IS_REMOTE;
  if (isRemote) flags |= IS_REMOTE;
  return flags;
}

export function encodeAttributes(attributes: Attributes): OtlpKeyValue[] {
  const out: OtlpKeyValue[] = [];
  for (const [key, value] of Object.entries(attributes)) {
    // An attribute set to undefined is "not set"; OTLP has no way to say it.
    if (value === undefined) continue;
    out.push({ key, value: encodeValue(value) });
  }
  return out;
}

function encodeValue(value: unknown): OtlpAnyValue {
  switch (typeof value) {
    case 'string':
      return { stringValue: value };
    case 'boolean':
      return { boolValue: value };
    case 'number':
      // Same rule as the SDK's protobuf exporter: integral numbers within int64 are intValue.
      if (Number.isInteger(value) && value >= MIN_INT64 && value < MAX_INT64) {
        return { intValue: BigInt(value).toString() };
      }
      if (Number.isNaN(value)) return { doubleValue: 'NaN' };
      if (value === Infinity) return { doubleValue: 'Infinity' };
      if (value === -Infinity) return { doubleValue: '-Infinity' };
      return { doubleValue: value };
    case 'bigint':
      return { intValue: value.toString() };
    case 'object':
      if (value === null) return {};
      if (value instanceof Uint8Array) return { bytesValue: Buffer.from(value).toString('base64') };
      if (Array.isArray(value)) return { arrayValue: { values: value.map((v: unknown) => encodeValue(v)) } };
      return {
        kvlistValue: {
          values: Object.entries(value as Record<string, unknown>)
            .filter(([, v]) => v !== undefined)
            .map(([key, v]) => ({ key, value: encodeValue(v) })),
        },
      };
    default:
      // null elements of homogeneous arrays, and anything unrepresentable: an empty AnyValue.
      return {};
  }
}

/** A grouping key for attribute sets that does not depend on key order. */
function stableKey(attributes: Attributes): string {
  return JSON.stringify(Object.keys(attributes).sort().map((k) => [k, attributes[k]]));
}
