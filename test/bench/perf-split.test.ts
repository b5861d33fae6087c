import { describe, expect, it } from 'vitest';
import { codeKind, parsePerfScriptLine, splitByWindows, type PerfSample } from '../../bench/perf-split.js';

const sample = (us: number, symbol: string, main = true, dso = '/usr/bin/node'): PerfSample => ({ us, symbol, dso, main });

describe('perf split', () => {
  it('reads perf script lines of one process: main thread or not, time in µs, symbol and where it is from', () => {
    expect(parsePerfScriptLine(' 9401/9401   2238.476581:      7f4812eb5612 _int_malloc (/usr/lib/x86_64-linux-gnu/libc.so.6)', 9401)).toEqual({
      main: true,
      us: 2238.476581e6,
      symbol: '_int_malloc',
      dso: '/usr/lib/x86_64-linux-gnu/libc.so.6',
    });
    expect(parsePerfScriptLine(' 9401/9405   2238.5:  7fb003a46afb JS:*sendDispatch file:///x/connection.js:97:17+0x87b (/tmp/perf-9401.map)', 9401)).toMatchObject({ main: false, symbol: 'JS:*sendDispatch file:///x/connection.js:97:17+0x87b' });
    expect(parsePerfScriptLine(' 9402/9402   2238.5:  ffffffff81000000 vfs_write ([kernel.kallsyms])', 9401)).toBeUndefined();
    expect(parsePerfScriptLine('garbage', 9401)).toBeUndefined();
  });

  it('tells kinds of code apart by symbol and object', () => {
    expect(codeKind('vfs_write', '[kernel.kallsyms]')).toBe('kernel');
    expect(codeKind('JS:*runSlice file:///a.js:1:1', '/tmp/perf-1.map')).toBe('js');
    expect(codeKind('v8::internal::Scavenger::ScavengeObject<x>', '/usr/bin/node')).toBe('gc');
    expect(codeKind('v8::internal::compiler::GraphReducer::ReduceTop', '/usr/bin/node')).toBe('compiler');
    expect(codeKind('Builtins_LoadIC', '/usr/bin/node')).toBe('builtins');
    expect(codeKind('uv_try_write', '/usr/bin/node')).toBe('native');
  });

  it('sums samples per window kind, per delivery, and leaves out what falls between windows', () => {
    const windows = [
      { startUs: 0, endUs: 1000, kind: 'sampled', deliveries: 100 },
      { startUs: 2000, endUs: 3000, kind: 'unsampled', deliveries: 100 },
      { startUs: 4000, endUs: 5000, kind: 'sampled', deliveries: 100 },
    ];
    const samples = [
      sample(10, 'JS:*encodeSpan file:///a.js:1:1+0x10'),
      sample(4500, 'JS:*encodeSpan file:///b.js:2:2+0x20'),
      sample(4600, 'v8::internal::compiler::Pipeline', false),
      sample(2500, 'JS:*runSlice file:///a.js:3:3'),
      sample(1500, 'JS:*runSlice file:///a.js:3:3'), // between windows
      sample(9000, 'JS:*runSlice file:///a.js:3:3'), // after the last
    ];
    // At 1,000 Hz a sample is 1,000 µs: two JS samples over 200 sampled deliveries is 10 µs a delivery.
    const split = splitByWindows(samples, windows, 1000);
    expect(split.samples).toBe(4);
    expect(split.byCode).toEqual({
      'main js': { sampled: 10, unsampled: 10 },
      'other compiler': { sampled: 5, unsampled: 0 },
    });
    // The same function from two builds is one row: its place in the file is left out.
    expect(split.top).toContainEqual({ code: 'main js', symbol: 'JS:*encodeSpan', difference: 10 });
    expect(split.top).toContainEqual({ code: 'main js', symbol: 'JS:*runSlice', difference: -10 });
    expect(split.top[0]!.symbol).not.toBe('v8::internal::compiler::Pipeline');
  });
});
