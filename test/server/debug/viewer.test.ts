// The built-in viewer over HTTP: the JSON API and the pages behind it
// (filters, validation, 404s, OTLP download, escaping, tracing switched off).
import { SpanKind } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import type { StoredSpan } from '../../../tracing/index.js';
import { type DebugWorld, startDebugWorld } from './debug-world.js';

const worlds: DebugWorld[] = [];
afterEach(async () => {
  for (const w of worlds.splice(0)) await w.close();
});

async function world(env: Record<string, string> = {}, tracingEnv: NodeJS.ProcessEnv = {}): Promise<DebugWorld> {
  const w = await startDebugWorld(env, tracingEnv);
  worlds.push(w);
  return w;
}

interface Summary {
  traceId: string;
  rootName: string;
  durationMs: number;
  spanCount: number;
  guild?: string;
  fanoutSize?: number;
}

/** A broadcast of one message to `n` sessions; returns its trace id. */
async function broadcastTrace(w: DebugWorld, n: number): Promise<{ traceId: string; guildId: string }> {
  const alice = await w.user('alice');
  const g = await w.guild(alice.id, []);
  const sessions = await w.sessions(alice.token, n);
  const res = await w.call('POST', `/api/v10/channels/${g.channelId}/messages`, { token: alice.token, body: { content: 'hello' } });
  expect(res.status).toBe(200);
  await Promise.all(sessions.map((c) => c.waitForDispatch('MESSAGE_CREATE', 1)));
  await w.quiesce();
  const list = (await (await w.call('GET', '/debug/api/traces')).json()) as { traces: Summary[] };
  const trace = list.traces.find((t) => t.rootName === 'POST /api/v10/channels/:channel_id/messages')!;
  return { traceId: trace.traceId, guildId: g.id };
}

function fakeSpan(overrides: Partial<StoredSpan>): StoredSpan {
  return {
    traceId: 'f'.repeat(32),
    spanId: '1'.repeat(16),
    traceFlags: 1,
    name: 'span',
    kind: SpanKind.INTERNAL,
    startMs: Date.now(),
    durationMs: 5,
    startTimeUnixNano: '0',
    endTimeUnixNano: '5000000',
    attributes: {},
    status: { code: 0 },
    events: [],
    links: [],
    serviceName: 'guildhall',
    resource: { 'service.name': 'guildhall' },
    scope: { name: 'guildhall' },
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
    ...overrides,
  };
}

describe('trace viewer JSON API', () => {
  it('lists a broadcast trace with its guild and fanout size, and filters by guild and minimum duration', async () => {
    const w = await world();
    const { traceId, guildId } = await broadcastTrace(w, 3);
    const all = (await (await w.call('GET', '/debug/api/traces')).json()) as { tracing: { enabled: boolean }; traces: Summary[] };
    expect(all.tracing.enabled).toBe(true);
    const summary = all.traces.find((t) => t.traceId === traceId)!;
    expect(summary).toMatchObject({ guild: guildId, fanoutSize: 3 });
    // ingress, guild, fanout, and one delivery span per session (each with its gateway.send event).
    expect(summary.spanCount).toBeGreaterThanOrEqual(1 + 1 + 1 + 3);

    const byGuild = (await (await w.call('GET', `/debug/api/traces?guild=${guildId}`)).json()) as { traces: Summary[] };
    expect(byGuild.traces.length).toBeGreaterThanOrEqual(1);
    expect(byGuild.traces.every((t) => t.guild === guildId)).toBe(true);
    const otherGuild = (await (await w.call('GET', '/debug/api/traces?guild=123456789012345678')).json()) as { traces: Summary[] };
    expect(otherGuild.traces).toEqual([]);
    const slow = (await (await w.call('GET', '/debug/api/traces?min_duration_ms=3600000')).json()) as { traces: Summary[] };
    expect(slow.traces).toEqual([]);
    const limited = (await (await w.call('GET', '/debug/api/traces?limit=1')).json()) as { traces: Summary[] };
    expect(limited.traces).toHaveLength(1);
    // An HTML form's empty fields mean "no filter".
    expect((await w.call('GET', '/debug/api/traces?guild=&min_duration_ms=')).status).toBe(200);
  });

  it('validates the query with Discord errors', async () => {
    const w = await world();
    for (const q of ['guild=abc', 'min_duration_ms=-1', 'min_duration_ms=x', 'limit=0', 'limit=1001']) {
      const res = await w.call('GET', `/debug/api/traces?${q}`);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { code: number }).code).toBe(50035);
    }
  });

  it('answers a trace as spans and as an OTLP JSON download; unknown traces are 404 and malformed ids 400', async () => {
    const w = await world();
    const { traceId } = await broadcastTrace(w, 2);
    const one = (await (await w.call('GET', `/debug/api/traces/${traceId}`)).json()) as { traceId: string; spans: StoredSpan[] };
    expect(one.traceId).toBe(traceId);
    const names = one.spans.map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['POST /api/v10/channels/:channel_id/messages', 'process guild', 'fanout session', 'process session']));
    expect(one.spans.find((s) => s.name === 'process guild')!.attributes['guildhall.mailbox.wait_ms']).toEqual(expect.any(Number));
    // Uppercase ids are the same trace.
    expect((await w.call('GET', `/debug/api/traces/${traceId.toUpperCase()}`)).status).toBe(200);

    const otlp = await w.call('GET', `/debug/api/traces/${traceId}/otlp.json`);
    expect(otlp.status).toBe(200);
    expect(otlp.headers.get('content-type')).toMatch(/^application\/json/);
    expect(otlp.headers.get('content-disposition')).toBe(`attachment; filename="trace-${traceId}.otlp.json"`);
    const body = (await otlp.json()) as { resourceSpans: { resource: { attributes: { key: string }[] }; scopeSpans: { spans: { traceId: string }[] }[] }[] };
    expect(body.resourceSpans[0]!.resource.attributes.map((a) => a.key)).toContain('service.name');
    const exported = body.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
    expect(exported).toHaveLength(one.spans.length);

    for (const path of [`/debug/api/traces/${'a'.repeat(32)}`, `/debug/api/traces/${'a'.repeat(32)}/otlp.json`]) {
      const res = await w.call('GET', path);
      expect(res.status).toBe(404);
      expect(((await res.json()) as { code: number; message: string }).code).toBe(0);
    }
    for (const bad of ['xyz', '0'.repeat(32), 'g'.repeat(32)]) {
      const res = await w.call('GET', `/debug/api/traces/${bad}`);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { code: number }).code).toBe(50035);
    }
  });

  it('does not trace its own requests, /metrics or /healthz', async () => {
    const w = await world();
    await w.flush();
    const before = w.traceIds();
    for (const path of ['/debug/traces', '/debug/api/traces', '/metrics', '/healthz', `/debug/traces/${'a'.repeat(32)}`]) await w.call('GET', path);
    await w.quiesce();
    expect(w.freshSpans(before)).toEqual([]);
  });
});

describe('trace viewer pages', () => {
  it('render the list and the waterfall with self-contained HTML and a strict CSP', async () => {
    const w = await world();
    const { traceId, guildId } = await broadcastTrace(w, 2);
    const list = await w.call('GET', '/debug/traces');
    expect(list.status).toBe(200);
    expect(list.headers.get('content-type')).toMatch(/^text\/html/);
    expect(list.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await list.text();
    expect(html).toContain(`data-trace-id="${traceId}"`);
    expect(html).toContain(guildId);
    expect(html).not.toMatch(/<(script|link)[^>]+(src|href)=/);

    const page = await (await w.call('GET', `/debug/traces/${traceId}`)).text();
    expect(page).toContain('id="waterfall"');
    expect(page).toContain('waiting in a mailbox');
    expect(page).toMatch(/class="wait" style="width:[\d.]+%"/);
    expect(page).toContain(`/debug/api/traces/${traceId}/otlp.json`);
  });

  it('escapes every piece of span text', async () => {
    const w = await world();
    const evil = '<img src=x onerror=alert(1)>"\'&';
    w.server.traceStore.add(fakeSpan({ name: evil, attributes: { [evil]: evil, 'guildhall.guild.id': evil } }));
    const list = await (await w.call('GET', '/debug/traces')).text();
    const page = await (await w.call('GET', `/debug/traces/${'f'.repeat(32)}`)).text();
    for (const html of [list, page]) {
      expect(html).not.toContain('<img');
      expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;');
    }
  });

  it('answers unknown traces and bad filters with an error page and the status', async () => {
    const w = await world();
    const missing = await w.call('GET', `/debug/traces/${'a'.repeat(32)}`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await missing.text()).toContain('Unknown Trace');
    const bad = await w.call('GET', '/debug/traces?min_duration_ms=-5');
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('Invalid Form Body');
  });

  it('say so when tracing is disabled', async () => {
    const w = await world({}, { OTEL_SDK_DISABLED: 'true' });
    const html = await (await w.call('GET', '/debug/traces')).text();
    expect(html).toContain('id="tracing-disabled"');
    expect(html).toContain('Tracing is disabled');
    const api = (await (await w.call('GET', '/debug/api/traces')).json()) as { tracing: { enabled: boolean }; traces: unknown[] };
    expect(api).toMatchObject({ tracing: { enabled: false }, traces: [] });
  });
});
