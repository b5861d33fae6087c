// Log lines carry the active span's ids, so logs and traces correlate.
import { Writable } from 'node:stream';
import { context, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../server/logger.js';
import { makeTracing } from '../support/tracing.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, destination };
}

describe('createLogger', () => {
  it('adds trace_id and span_id of the active span', async () => {
    const { lines, destination } = capture();
    const logger = createLogger({ level: 'info', destination });
    const { tracer } = makeTracing();
    const span = tracer.startSpan('work');
    context.with(trace.setSpan(context.active(), span), () => logger.info({ n: 1 }, 'inside'));
    span.end();
    logger.info('outside');
    await new Promise((r) => setImmediate(r));
    expect(lines[0]).toMatchObject({ msg: 'inside', n: 1, trace_id: span.spanContext().traceId, span_id: span.spanContext().spanId, trace_flags: '01' });
    expect(lines[1]!.msg).toBe('outside');
    expect(lines[1]).not.toHaveProperty('trace_id');
  });

  it('honours the level', async () => {
    const { lines, destination } = capture();
    const logger = createLogger({ level: 'warn', destination });
    logger.info('dropped');
    logger.warn('kept');
    await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => l.msg)).toEqual(['kept']);
  });
});
