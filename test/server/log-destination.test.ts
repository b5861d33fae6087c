import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { NonBlockingDestination } from '../../server/log-destination.js';

describe('NonBlockingDestination', () => {
  it('queues up to its bound, then drops and counts, without ever blocking', () => {
    // A stream nobody reads: what a stalled pipe looks like from the writer's side.
    const sink = new PassThrough({ highWaterMark: 16 });
    const dest = new NonBlockingDestination(sink, 100);
    const line = `${'x'.repeat(49)}\n`;
    for (let i = 0; i < 10; i++) dest.write(line);
    // 50 + 50 + 50 bytes queued (the third write finds 100, not more than the bound), then drops.
    expect(sink.writableLength).toBe(150);
    expect(dest.dropped).toBe(7);
  });

  it('drops everything after the stream failed (EPIPE), instead of throwing', () => {
    const sink = new PassThrough();
    const dest = new NonBlockingDestination(sink);
    sink.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    dest.write('after\n');
    expect(dest.dropped).toBe(1);
    expect(dest.pending).toBe(0);
  });
});
