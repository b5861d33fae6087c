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

  it('agrees with a regular-expression reading of the spec on every one-character change of a valid header', () => {
    const re = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
    const reference = (h: string) => {
      const m = re.exec(h);
      if (!m || m[1] === 'ff' || (m[1] === '00' && m[5] !== undefined)) return undefined;
      if (/^0+$/.test(m[2]!) || /^0+$/.test(m[3]!)) return undefined;
      return { traceId: m[2], spanId: m[3], traceFlags: parseInt(m[4]!, 16), isRemote: true };
    };
    const bases = [`00-${TRACE}-${SPAN}-01`, `01-${TRACE}-${SPAN}-00-more`, `fe-${TRACE}-${SPAN}-ff`];
    let checked = 0;
    for (const base of bases) {
      for (let i = 0; i <= base.length; i++) {
        for (const c of ['0', 'a', 'f', 'g', 'A', '-', ' ', '']) {
          const input = base.slice(0, i) + c + base.slice(i + 1);
          expect(parseTraceparent(input), input).toEqual(reference(input));
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });
});
