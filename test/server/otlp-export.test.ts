// OTLP/gRPC export end to end: a real server exporting to a real gRPC receiver
// that decodes ExportTraceServiceRequest, for a broadcast and for an IDENTIFY;
// and a collector that is down, slow or refusing never stops the serving.
import { status as GrpcStatus } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayClient } from '../support/gateway-client.js';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from '../support/otlp-receiver.js';
import { startTestServer, type TestServer } from '../support/world.js';

// OTLP's SpanKind numbering (API kind + 1).
const SERVER = 2;
const PRODUCER = 4;
const CONSUMER = 5;

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(receiverOptions: Parameters<typeof startOtlpReceiver>[0] = {}, extraEnv: NodeJS.ProcessEnv = {}) {
  const receiver = await startOtlpReceiver(receiverOptions);
  cleanups.push(() => receiver.close());
  const t = await startTestServer({}, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '50', OTEL_SERVICE_NAME: 'guildhall', ...extraEnv });
  cleanups.push(() => t.close());
  return { receiver, t };
}

async function identified(t: TestServer, token: string, guilds: number): Promise<GatewayClient> {
  const c = await GatewayClient.connect(t.url);
  cleanups.push(() => c.ws.terminate());
  c.identify(token);
  await c.waitForDispatch('GUILD_CREATE', guilds);
  return c;
}

const byId = (spans: ReceivedSpan[]) => new Map(spans.map((s) => [s.spanId, s]));

describe('OTLP/gRPC export', () => {
  it('exports a broadcast: SERVER ingress -> CONSUMER guild -> PRODUCER fanout -> CONSUMER sessions, with resource and attributes', async () => {
    const { receiver, t } = await setup();
    const alice = await t.user('alice');
    const bob = await t.user('bob');
    const g = await t.guild(alice.id, [bob.id]);
    const sessions = [await identified(t, alice.token, 1), await identified(t, bob.token, 1)];
    const res = await t.rest(alice.token, 'POST', `/channels/${g.channelId}/messages`, { content: 'traced' });
    expect(res.status).toBe(200);
    await Promise.all(sessions.map((s) => s.waitForDispatch('MESSAGE_CREATE')));

    const spans = await receiver.waitForSpans((all) => {
      const fan = all.find((s) => s.name === 'fanout session' && s.attributes['guildhall.event'] === 'MESSAGE_CREATE');
      return fan !== undefined && all.filter((s) => s.parentSpanId === fan.spanId).length === 2;
    }, 10_000);
    const fanout = spans.find((s) => s.name === 'fanout session' && s.attributes['guildhall.event'] === 'MESSAGE_CREATE')!;
    const index = byId(spans.filter((s) => s.traceId === fanout.traceId));
    const guild = index.get(fanout.parentSpanId)!;
    const ingress = index.get(guild.parentSpanId)!;
    expect(ingress.kind).toBe(SERVER);
    expect(ingress.name).toMatch(/^POST /);
    expect(ingress.parentSpanId).toBe('');
    expect(guild.name).toBe('process guild');
    expect(guild.kind).toBe(CONSUMER);
    expect(guild.attributes['guildhall.message.kind']).toBe('create_message');
    expect(typeof guild.attributes['guildhall.mailbox.wait_ms']).toBe('number');
    expect(typeof guild.attributes['guildhall.handle_ms']).toBe('number');
    expect(fanout.kind).toBe(PRODUCER);
    expect(fanout.attributes['guildhall.fanout.size']).toBe(2);
    expect(fanout.attributes['guildhall.guild.id']).toBe(g.id);
    const deliveries = [...index.values()].filter((s) => s.parentSpanId === fanout.spanId);
    expect(deliveries).toHaveLength(2);
    for (const d of deliveries) {
      expect(d.kind).toBe(CONSUMER);
      expect(d.name).toBe('process session');
      expect(d.attributes['guildhall.fanout.rate']).toBe(1);
      expect(d.attributes['guildhall.fanout.adjusted_count']).toBe(1);
      expect(typeof d.attributes['guildhall.mailbox.wait_ms']).toBe('number');
    }
    expect(ingress.resource['service.name']).toBe('guildhall');
    expect(typeof ingress.resource['service.instance.id']).toBe('string');
    // With a collector configured the built-in viewer keeps no copy (GUILDHALL_TRACE_VIEWER=auto), and says so.
    await t.server.ctx.tracing.provider?.forceFlush();
    expect(t.server.traceStore.stats().traces).toBe(0);
    expect(await (await fetch(`${t.url}/debug/traces`)).text()).toContain('viewer-off');
  });

  it('GUILDHALL_TRACE_VIEWER=on keeps a copy for the viewer while exporting', async () => {
    const receiver = await startOtlpReceiver();
    cleanups.push(() => receiver.close());
    const t = await startTestServer({ GUILDHALL_TRACE_VIEWER: 'on' }, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '50' });
    cleanups.push(() => t.close());
    const alice = await t.user('alice');
    const g = await t.guild(alice.id, []);
    expect((await t.rest(alice.token, 'POST', `/channels/${g.channelId}/messages`, { content: 'both' })).status).toBe(200);
    await receiver.waitForSpans((all) => all.some((s) => s.name === 'process guild'), 10_000);
    await t.server.ctx.tracing.provider?.forceFlush();
    expect(t.server.traceStore.stats().traces).toBeGreaterThan(0);
  });

  it('exports an IDENTIFY: the session span and one guild connect span per guild under it', async () => {
    const { receiver, t } = await setup();
    const alice = await t.user('alice');
    await t.guild(alice.id, [], 'one');
    await t.guild(alice.id, [], 'two');
    await identified(t, alice.token, 2);
    const spans = await receiver.waitForSpans((all) => all.filter((s) => s.attributes['guildhall.message.kind'] === 'connect').length === 2, 10_000);
    const identify = spans.find((s) => s.name === 'gateway IDENTIFY')!;
    expect(identify.kind).toBe(SERVER);
    const session = spans.find((s) => s.parentSpanId === identify.spanId && s.name === 'process session')!;
    expect(session.kind).toBe(CONSUMER);
    const connects = spans.filter((s) => s.parentSpanId === session.spanId && s.name === 'process guild');
    expect(connects).toHaveLength(2);
    for (const c of connects) expect(c.attributes['guildhall.mailbox.wait_ms']).toBeGreaterThanOrEqual(0);
  });

  it.each([
    ['down', undefined],
    ['refusing', { failWith: GrpcStatus.UNAVAILABLE }],
    ['slow', { delayMs: 2_000 }],
  ] as const)('a collector that is %s: the server keeps serving, the queue stays bounded, and losses are counted', async (_name, receiverOptions) => {
    let endpoint = 'http://127.0.0.1:9'; // nothing listens on the discard port
    if (receiverOptions) {
      const receiver: OtlpReceiver = await startOtlpReceiver(receiverOptions);
      cleanups.push(() => receiver.close());
      endpoint = receiver.url;
    }
    const t = await startTestServer({}, { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_BSP_MAX_QUEUE_SIZE: '64', OTEL_BSP_SCHEDULE_DELAY: '20', OTEL_BSP_EXPORT_TIMEOUT: '500' }, { rateLimitPerSecond: 100_000 });
    cleanups.push(() => t.close());
    const alice = await t.user('alice');
    const g = await t.guild(alice.id, []);
    for (let i = 0; i < 150; i++) {
      const res = await t.rest(alice.token, 'POST', `/channels/${g.channelId}/messages`, { content: `m${i}` });
      expect(res.status).toBe(200);
    }
    const stats = t.server.ctx.tracing.exportStats()!;
    expect(stats.queueLength).toBeLessThanOrEqual(64);
    expect(stats.dropped + stats.failed).toBeGreaterThan(0);
    const health = await fetch(`${t.url}/healthz`);
    expect(health.status).toBe(200);
  });
});
