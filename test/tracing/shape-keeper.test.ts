import { execFileSync } from 'node:child_process';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import type { ReadableSpan, Span } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { DEFAULT_KEPT_SPANS, ShapeKeeper } from '../../tracing/shape-keeper.js';

const span = (name: string) => ({ name }) as unknown as ReadableSpan;

describe('ShapeKeeper', () => {
  it('holds the last spans that ended, oldest first, and no more', () => {
    const keeper = new ShapeKeeper(3);
    keeper.onStart({} as Span, ROOT_CONTEXT);
    expect(keeper.held()).toEqual([]);
    for (const name of ['a', 'b']) keeper.onEnd(span(name));
    expect(keeper.held().map((s) => s.name)).toEqual(['a', 'b']);
    for (const name of ['c', 'd', 'e']) keeper.onEnd(span(name));
    expect(keeper.held().map((s) => s.name)).toEqual(['c', 'd', 'e']);
  });

  it('lets go of everything at shutdown, and says what it keeps', async () => {
    const keeper = new ShapeKeeper();
    keeper.onEnd(span('a'));
    await keeper.forceFlush();
    expect(keeper.held()).toHaveLength(1);
    await keeper.shutdown();
    expect(keeper.held()).toEqual([]);
    expect(String(keeper)).toBe(`ShapeKeeper{kept=${DEFAULT_KEPT_SPANS}}`);
  });

  it('refuses a size that is not a positive integer', () => {
    expect(() => new ShapeKeeper(0)).toThrow(RangeError);
    expect(() => new ShapeKeeper(1.5)).toThrow(RangeError);
  });
});

describe('ShapeKeeper in V8', () => {
  // A real process with V8's natives: whether the encoder's optimised code outlives the spans it was made for.
  const probe = (...args: string[]) =>
    JSON.parse(
      execFileSync(process.execPath, ['--allow-natives-syntax', '--expose-gc', '--no-concurrent-recompilation', '--import', 'tsx', 'test/support/shape-probe.ts', ...args], { encoding: 'utf8', timeout: 60_000 }),
    ) as { before: boolean; after: boolean };

  it('keeps the encoder optimised across major collections after sampled work stops; without it the code is thrown away', () => {
    expect(probe()).toEqual({ before: true, after: true });
    expect(probe('--no-keeper')).toEqual({ before: true, after: false });
  });
});
