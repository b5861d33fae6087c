// Log lines carry the active span's ids, so logs and traces correlate.
import { Writable } from 'node:stream';
import { context, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { createServer } from '../../server/app.js';
import { loadConfig } from '../../server/config.js';
import { createLogger, redactUrl } from '../../server/logger.js';
import { makeTracing } from '../support/tracing.js';
import { TEST_DATABASE_ENV } from '../support/server.js';

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

describe('redactUrl', () => {
  it('replaces the values of credential-like query parameters, and nothing else', () => {
    expect(redactUrl('/api/v10/users/@me?token=abc.def.ghi&limit=5')).toBe('/api/v10/users/@me?token=[redacted]&limit=5');
    expect(redactUrl('/x?access_token=a&client_secret=b&code=c&Authorization=d&api%5Fkey=e')).toBe(
      '/x?access_token=[redacted]&client_secret=[redacted]&code=[redacted]&Authorization=[redacted]&api%5Fkey=[redacted]',
    );
    expect(redactUrl('/x?after=0&encoding=json&flag')).toBe('/x?after=0&encoding=json&flag');
    expect(redactUrl('/no/query')).toBe('/no/query');
  });
});

describe('request logging through a real server', () => {
  it('never writes a token passed in the query string', async () => {
    const { lines, destination } = capture();
    const config = loadConfig({ ...TEST_DATABASE_ENV, PORT: '0', GUILDHALL_SEED: 'false', GUILDHALL_TOKEN_SECRET: 'logger-test-secret-0123456789' });
    const server = await createServer(config, { tracingEnv: {}, logger: createLogger({ level: 'info', destination }) });
    try {
      const base = await server.listen();
      await fetch(`${base}/api/v10/gateway?token=VERY.SECRET.TOKEN&v=10`);
      await fetch(`${base}/gateway?v=10&access_token=ANOTHER-SECRET`);
      await new Promise((r) => setImmediate(r));
    } finally {
      await server.close();
    }
    const text = JSON.stringify(lines);
    expect(text).toContain('token=[redacted]&v=10');
    expect(text).not.toContain('VERY.SECRET.TOKEN');
    expect(text).not.toContain('ANOTHER-SECRET');
  });
});
