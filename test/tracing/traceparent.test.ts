import { ROOT_CONTEXT, TraceFlags, defaultTextMapGetter, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { describe, expect, it } from 'vitest';
import { formatTraceparent, isSampledTraceparent, parseTraceparent } from '../../tracing/traceparent.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('isSampledTraceparent (fast path)', () => {
  it('reads the sampled bit from the last hex digit', () => {
    expect(isSampledTraceparent(`00-${TRACE}-${SPAN}-01`)).toBe(true);
    expect(isSampledTraceparent(`00-${TRACE}-${SPAN}-00`)).toBe(false);
    expect(isSampledTraceparent(`00-${TRACE}-${SPAN}-03`)).toBe(true);
    expect(isSampledTraceparent(`00-${TRACE}-${SPAN}-02`)).toBe(false);
    expect(isSampledTraceparent(`00-${TRACE}-${SPAN}-ff`)).toBe(true);
  });

  it('treats malformed or absent input as unsampled and never throws', () => {
    const bad: unknown[] = [
      undefined,
      null,
      42,
      {},
      '',
      'garbage',
      `00-${TRACE}-${SPAN}-0`,
      `00-${TRACE}-${SPAN}-0g`,
      `00-${TRACE}-${SPAN}-0F`, // uppercase is not allowed by the spec
      `00_${TRACE}-${SPAN}-01`,
      `00-${TRACE}_${SPAN}-01`,
      `00-${TRACE}-${SPAN}_01`,
      `00-${TRACE}-${SPAN}-01-extra`, // version 00 has exactly four fields
      `00-${TRACE}-${SPAN}-01x`,
    ];
    for (const input of bad) expect(isSampledTraceparent(input), String(input)).toBe(false);
  });

  it('accepts a future version with extra fields', () => {
    expect(isSampledTraceparent(`01-${TRACE}-${SPAN}-01-abc`)).toBe(true);
  });

  it('agrees with the full W3C propagator on a corpus of inputs', () => {
    const propagator = new W3CTraceContextPropagator();
    const inputs = [
      `00-${TRACE}-${SPAN}-01`,
      `00-${TRACE}-${SPAN}-00`,
      `00-${TRACE}-${SPAN}-09`,
      `00-${TRACE}-${SPAN}-08`,
      `00-${TRACE}-${SPAN}-1`,
      `01-${TRACE}-${SPAN}-01-later`,
      'nope',
    ];
    for (const input of inputs) {
      const extracted = trace.getSpanContext(propagator.extract(ROOT_CONTEXT, { traceparent: input }, defaultTextMapGetter));
      const full = extracted !== undefined && (extracted.traceFlags & TraceFlags.SAMPLED) === 1;
      expect(isSampledTraceparent(input), input).toBe(full);
    }
  });
});

describe('parseTraceparent / formatTraceparent', () => {
  it('round-trips a sampled context', () => {
    const ctx = parseTraceparent(`00-${TRACE}-${SPAN}-01`, 'vendor=value');
    expect(ctx).toMatchObject({ traceId: TRACE, spanId: SPAN, traceFlags: 1, isRemote: true });
    expect(ctx?.traceState?.get('vendor')).toBe('value');
    expect(formatTraceparent(ctx!)).toBe(`00-${TRACE}-${SPAN}-01`);
  });

  it('rejects all-zero ids, version ff, and malformed text', () => {
    expect(parseTraceparent(`00-${'0'.repeat(32)}-${SPAN}-01`)).toBeUndefined();
    expect(parseTraceparent(`00-${TRACE}-${'0'.repeat(16)}-01`)).toBeUndefined();
    expect(parseTraceparent(`ff-${TRACE}-${SPAN}-01`)).toBeUndefined();
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-01-x`)).toBeUndefined();
    expect(parseTraceparent('00-xyz')).toBeUndefined();
  });
});
