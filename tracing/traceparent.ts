// W3C traceparent handling (https://www.w3.org/TR/trace-context/#traceparent-header):
//   version "-" trace-id "-" parent-id "-" trace-flags  =  2 + 1 + 32 + 1 + 16 + 1 + 2 = 55 chars.
// The sampled flag is bit 0 of trace-flags, i.e. of the last hex digit, so it
// can be read with a few character checks before any full parse: unsampled
// contexts are dropped without building context objects.
import { type SpanContext, TraceFlags, createTraceState } from '@opentelemetry/api';

const TRACEPARENT_LENGTH = 55;
const DASH = 45;

/** Value of a hex digit char code, or -1. Lowercase only, as the spec requires. */
function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/**
 * The sampled flag of a traceparent, read from its text: 1 sampled, 0 not
 * sampled, -1 absent or malformed. A few character checks (layout, the flag
 * digits); never throws, never allocates. Ids are only checked by the full parse.
 */
export function traceparentSampledFlag(header: unknown): 1 | 0 | -1 {
  if (typeof header !== 'string') return -1;
  const len = header.length;
  if (len < TRACEPARENT_LENGTH) return -1;
  // Version 00 is exactly 55 chars; later versions may append "-..." fields.
  if (len > TRACEPARENT_LENGTH && (header.charCodeAt(TRACEPARENT_LENGTH) !== DASH || header.startsWith('00'))) return -1;
  if (header.charCodeAt(2) !== DASH || header.charCodeAt(35) !== DASH || header.charCodeAt(52) !== DASH) return -1;
  const hi = hexValue(header.charCodeAt(53));
  const lo = hexValue(header.charCodeAt(54));
  if (hi < 0 || lo < 0) return -1;
  return (lo & 1) === 1 ? 1 : 0;
}

/** True only when `header` looks like a traceparent whose sampled flag is set. */
export function isSampledTraceparent(header: unknown): boolean {
  return traceparentSampledFlag(header) === 1;
}

const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** True when `s[from, to)` is lowercase hex. */
function hexRun(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (hexValue(s.charCodeAt(i)) < 0) return false;
  return true;
}

/**
 * Full parse into a remote SpanContext, or undefined when invalid: the
 * layout by character checks (every kept delivery's handler parses one, so
 * no regular expression and no strings beyond the two ids).
 */
export function parseTraceparent(header: string, tracestate?: string): SpanContext | undefined {
  const len = header.length;
  if (len < TRACEPARENT_LENGTH) return undefined;
  if (header.charCodeAt(2) !== DASH || header.charCodeAt(35) !== DASH || header.charCodeAt(52) !== DASH) return undefined;
  const v0 = hexValue(header.charCodeAt(0));
  const v1 = hexValue(header.charCodeAt(1));
  const f0 = hexValue(header.charCodeAt(53));
  const f1 = hexValue(header.charCodeAt(54));
  if (v0 < 0 || v1 < 0 || f0 < 0 || f1 < 0) return undefined;
  const version = (v0 << 4) | v1;
  // ff is invalid; version 00 is exactly 55 characters; later ones may append "-...".
  if (version === 0xff) return undefined;
  if (len > TRACEPARENT_LENGTH && (version === 0 || header.charCodeAt(TRACEPARENT_LENGTH) !== DASH)) return undefined;
  if (!hexRun(header, 3, 35) || !hexRun(header, 36, 52)) return undefined;
  const traceId = header.slice(3, 35);
  const spanId = header.slice(36, 52);
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  const context: SpanContext = { traceId, spanId, traceFlags: (f0 << 4) | f1, isRemote: true };
  if (tracestate) {
    try {
      context.traceState = createTraceState(tracestate);
    } catch {
      // An unparsable tracestate is dropped, not fatal (spec: "vendors MUST... discard").
    }
  }
  return context;
}

/** `00-<trace>-<span>-<flags>` for a span context. */
export function formatTraceparent(context: SpanContext): string {
  const flags = context.traceFlags & TraceFlags.SAMPLED ? '01' : '00';
  return `00-${context.traceId}-${context.spanId}-${flags}`;
}
