// Each REST request is a SERVER span, honouring an incoming traceparent:
// sampled -> child of it; unsampled -> nothing at all; absent -> a new root.
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type GuildhallServer } from '../../../server/app.js';
import { issueToken } from '../../../server/auth/token.js';
import { loadConfig } from '../../../server/config.js';
import { type SqlStore, openSqlStore } from '../../../server/store/sql-store.js';
import { SQLITE_OPTIONS } from '../../support/sqlite.js';
import type { StoredSpan } from '../../../tracing/index.js';
import { TEST_SECRET, type TestGuild, type TestServer, type TestUser, startTestServer } from '../../support/server.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';

let t: TestServer;
let alice: TestUser;
let g: TestGuild;
beforeAll(async () => {
  t = await startTestServer();
  alice = await t.user('alice');
  g = await t.guild(alice.id, []);
});
afterAll(() => t.close());

async function allSpans(server: GuildhallServer): Promise<StoredSpan[]> {
  await server.ctx.tracing.provider?.forceFlush();
  return server.traceStore.list({ limit: 100_000 }).flatMap((s) => server.traceStore.get(s.traceId) ?? []);
}

describe('ingress spans', () => {
  it('makes a sampled traceparent the parent of the SERVER span, and the guild call its child', async () => {
    const traceId = TRACE_ID;
    const res = await t.api(`/channels/${g.channelId}/messages`, {
      method: 'POST',
      token: alice.token,
      body: { content: 'traced' },
      headers: { traceparent: `00-${traceId}-${PARENT_ID}-01` },
    });
    expect(res.status).toBe(200);
    await t.server.ctx.tracing.provider?.forceFlush();
    const spans = t.server.traceStore.get(traceId)!;
    const server = spans.find((s) => s.kind === SpanKind.SERVER)!;
    expect(server).toBeDefined();
    expect(server.parentSpanId).toBe(PARENT_ID);
    expect(server.parentIsRemote).toBe(true);
    expect(server.name).toBe('POST /api/v10/channels/:channel_id/messages');
    expect(server.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/api/v10/channels/:channel_id/messages',
      'url.path': `/api/v10/channels/${g.channelId}/messages`,
      'http.response.status_code': 200,
      'guildhall.guild.id': g.id,
    });
    // The handler ran inside the span (even after body parsing): the guild actor's work is its child.
    const guildSpan = spans.find((s) => s.name === 'process guild');
    expect(guildSpan?.parentSpanId).toBe(server.spanId);
  });

  it('takes the guild from the route when it has one', async () => {
    const traceId = 'a'.repeat(31) + '1';
    await t.api(`/guilds/${g.id}`, { token: alice.token, headers: { traceparent: `00-${traceId}-${PARENT_ID}-01` } });
    await t.server.ctx.tracing.provider?.forceFlush();
    const [span] = t.server.traceStore.get(traceId)!;
    expect(span!.attributes['guildhall.guild.id']).toBe(g.id);
    expect(span!.name).toBe('GET /api/v10/guilds/:guild_id');
  });

  it('makes no span at all for an unsampled traceparent, not even in the guild actor', async () => {
    const before = (await allSpans(t.server)).length;
    const res = await t.api(`/channels/${g.channelId}/messages`, {
      method: 'POST',
      token: alice.token,
      body: { content: 'untraced' },
      headers: { traceparent: `00-${'b'.repeat(32)}-${PARENT_ID}-00` },
    });
    expect(res.status).toBe(200);
    expect(await allSpans(t.server)).toHaveLength(before);
  });

  it('starts a new root without a traceparent (and for a malformed one)', async () => {
    for (const headers of [{}, { traceparent: 'garbage' }] as Record<string, string>[]) {
      const known = new Set(t.server.traceStore.list({ limit: 100_000 }).map((s) => s.traceId));
      await t.api('/users/@me', { token: alice.token, headers });
      await t.server.ctx.tracing.provider?.forceFlush();
      const fresh = t.server.traceStore.list({ limit: 100_000 }).filter((s) => !known.has(s.traceId));
      expect(fresh).toHaveLength(1);
      const [span] = t.server.traceStore.get(fresh[0]!.traceId)!;
      expect(span!.parentSpanId).toBeUndefined();
      expect(span!.kind).toBe(SpanKind.SERVER);
      expect(span!.name).toBe('GET /api/v10/users/@me');
    }
  });

  it('names an unmatched request by its method only, and records the 404', async () => {
    const traceId = 'c'.repeat(32);
    await t.api('/nowhere', { headers: { traceparent: `00-${traceId}-${PARENT_ID}-01` } });
    await t.server.ctx.tracing.provider?.forceFlush();
    const [span] = t.server.traceStore.get(traceId)!;
    expect(span!.name).toBe('GET');
    expect(span!.attributes['http.route']).toBeUndefined();
    expect(span!.attributes['http.response.status_code']).toBe(404);
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
  });
});

// A store whose reads fail, as a database that went away: the one way to make a real 5xx.
async function failingStore(): Promise<SqlStore> {
  const store = await openSqlStore({ kind: 'sqlite', path: ':memory:' }, SQLITE_OPTIONS);
  store.getGuild = async () => {
    throw new Error('store unavailable: /var/lib/secret/path');
  };
  return store;
}

describe('server errors', () => {
  it('answers an unexpected failure with 500 code 0, no stack, and marks the span as an error', async () => {
    const config = loadConfig({ PORT: '0', LOG_LEVEL: 'silent', GUILDHALL_TOKEN_SECRET: TEST_SECRET, GUILDHALL_SEED: 'false' });
    const store = await failingStore();
    const server = await createServer(config, { tracingEnv: {}, store });
    try {
      const base = await server.listen();
      const user = await store.createUser({ username: 'alice' });
      const traceId = 'd'.repeat(32);
      const res = await fetch(`${base}/api/v10/guilds/1234567890123456789`, {
        headers: { authorization: `Bot ${issueToken(TEST_SECRET, user.id)}`, traceparent: `00-${traceId}-${PARENT_ID}-01` },
      });
      expect(res.status).toBe(500);
      const text = await res.text();
      expect(JSON.parse(text)).toEqual({ code: 0, message: '500: Internal Server Error' });
      expect(text).not.toContain('secret/path');
      await server.ctx.tracing.provider?.forceFlush();
      const [span] = server.traceStore.get(traceId)!;
      expect(span!.status.code).toBe(SpanStatusCode.ERROR);
      expect(span!.attributes['http.response.status_code']).toBe(500);
    } finally {
      await server.close();
      await store.close();
    }
  });
});

describe('tracing off', () => {
  it('makes no ingress span with OTEL_SDK_DISABLED, even when another tracer provider is registered globally', async () => {
    // `t`'s server registered its provider as the process's global one; a server with tracing
    // off used to hand the API's global tracer to its ingress hooks, so its requests landed there.
    const config = loadConfig({ PORT: '0', LOG_LEVEL: 'silent', GUILDHALL_TOKEN_SECRET: TEST_SECRET, GUILDHALL_SEED: 'false' });
    const store = await openSqlStore({ kind: 'sqlite', path: ':memory:' }, SQLITE_OPTIONS);
    const server = await createServer(config, { tracingEnv: { OTEL_SDK_DISABLED: 'true' }, store });
    try {
      const base = await server.listen();
      const user = await store.createUser({ username: 'untraced' });
      const traceId = 'e'.repeat(32);
      const res = await fetch(`${base}/api/v10/users/@me`, {
        headers: { authorization: `Bot ${issueToken(TEST_SECRET, user.id)}`, traceparent: `00-${traceId}-${PARENT_ID}-01` },
      });
      expect(res.status).toBe(200);
      await t.server.ctx.tracing.provider?.forceFlush();
      expect(t.server.traceStore.get(traceId) ?? []).toEqual([]);
    } finally {
      await server.close();
      await store.close();
    }
  });
});
