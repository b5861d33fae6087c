// The server's lifecycle: ready, drained, closed; several in one process.
import { Agent, get } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createServer } from '../../server/app.js';
import { loadConfig } from '../../server/config.js';
import { TEST_DATABASE_ENV, TEST_SECRET, startTestServer } from '../support/server.js';

describe('createServer', () => {
  it('runs several servers side by side, each with its own trace store', async () => {
    const a = await startTestServer();
    const b = await startTestServer();
    try {
      expect(a.url).not.toBe(b.url);
      const alice = await a.user('alice');
      await a.api('/users/@me', { token: alice.token });
      await a.server.ctx.tracing.provider?.forceFlush();
      await b.server.ctx.tracing.provider?.forceFlush();
      expect(a.server.traceStore.stats().spans).toBeGreaterThan(0);
      expect(b.server.traceStore.stats().spans).toBe(0);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('reports 503 from /healthz until it listens', async () => {
    const config = loadConfig({ PORT: '0', LOG_LEVEL: 'silent', GUILDHALL_TOKEN_SECRET: TEST_SECRET, ...TEST_DATABASE_ENV });
    const server = await createServer(config, { tracingEnv: {} });
    try {
      const res = await server.app.inject({ method: 'GET', url: '/healthz' });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({ status: 'starting' });
    } finally {
      await server.close();
    }
  });

  it('stops listening on close, and close is idempotent', async () => {
    const t = await startTestServer();
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    await Promise.all([t.close(), t.close()]);
    await expect(fetch(`${t.url}/healthz`)).rejects.toThrow();
    expect(t.server.ctx.system.size).toBe(0);
  });

  it('while draining still serves, answers 503 draining to health checks and closes each keep-alive connection after its response', async () => {
    const t = await startTestServer();
    try {
      const alice = await t.user('alice');
      // Before the drain a keep-alive client keeps its connection.
      expect((await rawGet(`${t.url}/api/v10/users/@me`, alice.token)).headers.connection).toBe('keep-alive');
      t.server.beginDrain();
      const me = await rawGet(`${t.url}/api/v10/users/@me`, alice.token);
      expect(me.status).toBe(200);
      expect(me.headers.connection).toBe('close');
      for (const path of ['/healthz', '/readyz']) {
        const res = await fetch(`${t.url}${path}`);
        expect(res.status).toBe(503);
        expect(await res.json()).toEqual({ status: 'draining' });
      }
    } finally {
      await t.close();
    }
  });

  it('turns tracing off with OTEL_SDK_DISABLED, and still serves', async () => {
    const t = await startTestServer({}, { tracingEnv: { OTEL_SDK_DISABLED: 'true' } });
    try {
      const alice = await t.user('alice');
      expect((await t.api('/users/@me', { token: alice.token, headers: { traceparent: `00-${'e'.repeat(32)}-${'1'.repeat(16)}-01` } })).status).toBe(200);
      expect(t.server.ctx.tracing.enabled).toBe(false);
      expect(t.server.traceStore.stats().spans).toBe(0);
    } finally {
      await t.close();
    }
  });
});

/** A GET over node:http with keep-alive, whose response headers are as sent (fetch hides hop-by-hop ones like Connection). */
function rawGet(url: string, token: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const agent = new Agent({ keepAlive: true });
    get(url, { headers: { authorization: `Bot ${token}` }, agent }, (res) => {
      res.on('close', () => agent.destroy());
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    }).on('error', reject);
  });
}
