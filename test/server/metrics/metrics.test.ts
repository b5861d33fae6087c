// GET /metrics over real HTTP and sockets: Prometheus text with the actor,
// fanout, gateway, span and REST series, per server.
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayClient } from '../../support/gateway-client.js';
import { startTestServer, type TestServer } from '../../support/world.js';

const servers: TestServer[] = [];
const clients: GatewayClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  for (const s of servers.splice(0)) await s.close();
});

async function server(env: Record<string, string> = {}): Promise<TestServer> {
  const t = await startTestServer(env);
  servers.push(t);
  return t;
}

/** The value of one series, e.g. value(text, 'guildhall_actors{kind="guild"}'); undefined when absent. */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function scrape(t: TestServer): Promise<string> {
  const res = await fetch(`${t.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return res.text();
}

async function connect(t: TestServer, token: string): Promise<GatewayClient> {
  const c = await GatewayClient.connect(t.url);
  clients.push(c);
  c.identify(token);
  await c.waitForDispatch('GUILD_CREATE', 1);
  return c;
}

describe('GET /metrics', () => {
  it('counts a broadcast: actors, fanout, gateway writes, REST latency by route', async () => {
    const t = await server();
    const alice = await t.user('alice');
    const g = await t.guild(alice.id, []);
    const N = 5;
    const sessions = await Promise.all(Array.from({ length: N }, () => connect(t, alice.token)));
    const before = await scrape(t);
    const res = await t.rest(alice.token, 'POST', `/channels/${g.channelId}/messages`, { content: 'count me' });
    expect(res.status).toBe(200);
    await Promise.all(sessions.map((c) => c.waitForDispatch('MESSAGE_CREATE', 1)));
    const after = await scrape(t);
    const delta = (series: string) => (value(after, series) ?? 0) - (value(before, series) ?? 0);

    expect(value(after, 'guildhall_actors{kind="guild"}')).toBe(1);
    expect(value(after, 'guildhall_actors{kind="session"}')).toBe(N);
    expect(value(after, 'guildhall_actor_mailbox_depth{kind="session"}')).toBe(0);
    expect(delta('guildhall_actor_messages_handled_total{kind="guild"}')).toBe(1);
    expect(delta('guildhall_actor_messages_handled_total{kind="session"}')).toBe(N);
    expect(delta('guildhall_fanout_size_count')).toBe(1);
    expect(delta('guildhall_fanout_size_sum')).toBe(N);
    expect(delta('guildhall_fanout_deliveries_total')).toBe(N);
    // N <= K: every delivery of a sampled broadcast is kept.
    expect(delta('guildhall_fanout_kept_deliveries_total')).toBe(N);
    expect(delta('guildhall_gateway_dispatches_sent_total')).toBe(N);
    const bytes = sessions.reduce((sum, c) => sum + JSON.stringify(c.dispatches('MESSAGE_CREATE')[0]).length, 0);
    expect(delta('guildhall_gateway_bytes_sent_total')).toBeGreaterThanOrEqual(bytes * 0.9);
    expect(value(after, 'guildhall_gateway_connections')).toBe(N);
    expect(value(after, 'guildhall_gateway_sessions')).toBe(N);
    expect(value(after, 'guildhall_http_request_duration_seconds_count{method="POST",route="/api/v10/channels/:channel_id/messages",status_code="200"}')).toBe(1);
    for (const name of ['guildhall_actor_mailbox_wait_seconds', 'guildhall_actor_handle_seconds', 'guildhall_actor_restarts_total', 'guildhall_gateway_slow_consumer_disconnects_total', 'process_cpu_seconds_total']) {
      expect(after).toContain(`# TYPE ${name} `);
    }
  });

  it('times one message in 16 per actor kind, and counts every one', async () => {
    const t = await server();
    const alice = await t.user('alice');
    const g = await t.guild(alice.id, []);
    const c = await connect(t, alice.token);
    for (let i = 0; i < 40; i++) {
      const res = await t.rest(alice.token, 'POST', `/channels/${g.channelId}/typing`);
      expect(res.status).toBe(204);
    }
    await c.waitForDispatch('TYPING_START', 40);
    const text = await scrape(t);
    for (const kind of ['guild', 'session']) {
      const handled = value(text, `guildhall_actor_messages_handled_total{kind="${kind}"}`)!;
      expect(handled).toBeGreaterThanOrEqual(40);
      expect(value(text, `guildhall_actor_mailbox_wait_seconds_count{kind="${kind}"}`)).toBe(Math.floor(handled / 16));
      expect(value(text, `guildhall_actor_handle_seconds_count{kind="${kind}"}`)).toBe(Math.floor(handled / 16));
    }
  });

  it('counts close codes by who closed, and spans delivered to the viewer', async () => {
    const t = await server();
    const alice = await t.user('alice');
    await t.guild(alice.id, []);
    const bad = await GatewayClient.connect(t.url);
    clients.push(bad);
    bad.sendRaw('{not json');
    expect(await bad.waitForClose()).toBe(4002);
    const leaving = await connect(t, alice.token);
    leaving.close(1000);
    await leaving.waitForClose();
    await new Promise((r) => setTimeout(r, 50));
    await t.server.ctx.tracing.provider?.forceFlush();
    const text = await scrape(t);
    expect(value(text, 'guildhall_gateway_closes_total{code="4002",by="server"}')).toBe(1);
    expect(value(text, 'guildhall_gateway_closes_total{code="1000",by="client"}')).toBe(1);
    expect(value(text, 'guildhall_gateway_connections_accepted_total')).toBe(2);
    expect(value(text, 'guildhall_spans_exported_total{exporter="viewer"}')).toBeGreaterThan(0);
    expect(value(text, 'guildhall_spans_dropped_total{exporter="viewer"}')).toBe(0);
    // No collector configured: no otlp series.
    expect(text).not.toContain('exporter="otlp"');
    expect(value(text, 'guildhall_trace_store_traces')).toBeGreaterThan(0);
  });

  it('serves OpenMetrics with trace-id exemplars when asked; the trace ids are in the trace store; Prometheus text stays the default', async () => {
    const t = await server();
    const alice = await t.user('alice');
    const g = await t.guild(alice.id, []);
    const sessions = await Promise.all(Array.from({ length: 3 }, () => connect(t, alice.token)));
    // Enough guild messages that the 1-in-16 timing lands on traced ones (sampling is always-on here).
    for (let i = 0; i < 40; i++) expect((await t.rest(alice.token, 'POST', `/channels/${g.channelId}/messages`, { content: `m${i}` })).status).toBe(200);
    await Promise.all(sessions.map((c) => c.waitForDispatch('MESSAGE_CREATE', 40)));

    const res = await fetch(`${t.url}/metrics`, { headers: { accept: 'application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    const text = await res.text();
    expect(text.endsWith('# EOF\n')).toBe(true);
    // OpenMetrics names the counter family without _total and its sample with it.
    expect(text).toMatch(/^# TYPE guildhall_actor_messages_handled counter$/m);
    expect(text).toMatch(/^guildhall_actor_messages_handled_total\{kind="guild"\} \d+$/m);

    const exemplar = /^(\w+)_bucket\{[^}]*\} \d+ # \{trace_id="([0-9a-f]{32})"\} [\d.e+-]+ [\d.]+$/gm;
    const byMetric = new Map<string, Set<string>>();
    for (const m of text.matchAll(exemplar)) {
      if (!byMetric.has(m[1]!)) byMetric.set(m[1]!, new Set());
      byMetric.get(m[1]!)!.add(m[2]!);
    }
    for (const name of ['guildhall_http_request_duration_seconds', 'guildhall_actor_mailbox_wait_seconds', 'guildhall_actor_handle_seconds']) {
      expect(byMetric.get(name)?.size ?? 0, name).toBeGreaterThan(0);
    }
    await t.server.ctx.tracing.provider?.forceFlush();
    for (const [name, ids] of byMetric) for (const id of ids) expect(t.server.traceStore.get(id), `${name} exemplar ${id}`).toBeDefined();

    // Without the header: Prometheus text, no exemplars, and counters keep their _total names.
    const plain = await scrape(t);
    expect(plain).not.toContain('# {trace_id=');
    expect(plain).toMatch(/^# TYPE guildhall_actor_messages_handled_total counter$/m);
    expect(value(plain, 'guildhall_actor_messages_handled_total{kind="guild"}')).toBeGreaterThan(40);
  });

  it('keeps one registry per server', async () => {
    const a = await server();
    const b = await server();
    const alice = await a.user('alice');
    await a.guild(alice.id, []);
    await connect(a, alice.token);
    expect(value(await scrape(a), 'guildhall_gateway_connections_accepted_total')).toBe(1);
    expect(value(await scrape(b), 'guildhall_gateway_connections_accepted_total')).toBe(0);
  });
});
