// LeanContext against the API's own contexts (ROOT_CONTEXT and what its
// setValue makes): the same values for every key after the same operations,
// at any depth, and the API's helpers (spans, suppression) work on it.
import { type Context, ROOT_CONTEXT, TraceFlags, createContextKey, trace } from '@opentelemetry/api';
import { isTracingSuppressed, suppressTracing } from '@opentelemetry/core';
import { describe, expect, it } from 'vitest';
import { LeanContext } from '../../tracing/lean-context.js';
import { ScopedContextManager } from '../../tracing/context-manager.js';

const KEYS = Array.from({ length: 6 }, (_, i) => createContextKey(`test.key.${i}`));

/** A small deterministic generator (mulberry32): the same operations on every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function valuesOf(ctx: Context): unknown[] {
  return KEYS.map((k) => ctx.getValue(k));
}

describe('LeanContext', () => {
  it('is empty at the root, and setValue, deleteValue leave the context they were called on unchanged', () => {
    const root = LeanContext.ROOT;
    expect(valuesOf(root)).toEqual(KEYS.map(() => undefined));
    const a = root.setValue(KEYS[0]!, 'a');
    const b = a.setValue(KEYS[0]!, 'b');
    const c = b.deleteValue(KEYS[0]!);
    expect([root.getValue(KEYS[0]!), a.getValue(KEYS[0]!), b.getValue(KEYS[0]!), c.getValue(KEYS[0]!)]).toEqual([undefined, 'a', 'b', undefined]);
    // Deleting a key that has no value changes nothing.
    expect(c.deleteValue(KEYS[1]!).getValue(KEYS[0]!)).toBeUndefined();
    // A value set to undefined reads as undefined, as the API's context reads it.
    expect(a.setValue(KEYS[0]!, undefined).getValue(KEYS[0]!)).toBeUndefined();
  });

  it('reads the same values as the API context after the same random sets and deletes, past the flattening depth', () => {
    const next = random(15);
    for (let run = 0; run < 40; run++) {
      let lean: Context = LeanContext.ROOT;
      let api: Context = ROOT_CONTEXT;
      const history: [Context, Context][] = [];
      for (let step = 0; step < 60; step++) {
        const key = KEYS[Math.floor(next() * KEYS.length)]!;
        if (next() < 0.3) {
          lean = lean.deleteValue(key);
          api = api.deleteValue(key);
        } else {
          const value = next() < 0.1 ? undefined : `${run}.${step}`;
          lean = lean.setValue(key, value);
          api = api.setValue(key, value);
        }
        history.push([lean, api]);
        expect(valuesOf(lean)).toEqual(valuesOf(api));
      }
      // Every context made along the way still reads as it did (immutable, flattening included).
      for (const [l, a] of history) expect(valuesOf(l)).toEqual(valuesOf(a));
    }
  });

  it('carries spans and tracing suppression for the API and core helpers', () => {
    const sc = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED, isRemote: true };
    const parent = trace.setSpanContext(LeanContext.ROOT, sc);
    expect(parent).toBeInstanceOf(LeanContext);
    expect(trace.getSpanContext(parent)).toEqual(sc);
    expect(trace.getSpanContext(trace.deleteSpan(parent))).toBeUndefined();
    expect(isTracingSuppressed(parent)).toBe(false);
    expect(isTracingSuppressed(suppressTracing(parent))).toBe(true);
    expect(trace.getSpanContext(suppressTracing(parent))).toEqual(sc);
  });

  it('is what a handler sees as active when entered through the context manager', () => {
    const manager = new ScopedContextManager().enable();
    try {
      const ctx = LeanContext.ROOT.setValue(KEYS[0]!, 'inside');
      expect(manager.with(ctx, () => manager.active().getValue(KEYS[0]!))).toBe('inside');
      expect(manager.active().getValue(KEYS[0]!)).toBeUndefined();
    } finally {
      manager.disable();
    }
  });
});
