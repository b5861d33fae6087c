// Every scenario, small, against a real server started in this process: the
// world is built through REST, the sessions speak the gateway, and the
// accounting must come out clean.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ScenarioName, resolveOptions } from '../../client-sim/cli.js';
import type { SimReport } from '../../client-sim/report.js';
import { runSimulation } from '../../client-sim/run.js';
import { type TestServer, startTestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

async function run(scenario: ScenarioName, given: Parameters<typeof resolveOptions>[1] = {}): Promise<SimReport> {
  const options = resolveOptions(scenario, { url: server.url, sessions: 20, progress: 'off', timeout: 60, ...given });
  const report = await runSimulation(options, { env: {} });
  if (!report.passed) console.error(JSON.stringify({ failures: report.failures, errors: report.errorSamples }, null, 2));
  return report;
}

function expectClean(r: SimReport): void {
  expect(r.failures).toEqual([]);
  expect(r.passed).toBe(true);
  expect(r.metrics.lost).toBe(0);
  expect(r.metrics.duplicated).toBe(0);
  expect(r.metrics.unexpected).toBe(0);
  expect(r.metrics.seq_gaps).toBe(0);
  expect(r.metrics.out_of_order).toBe(0);
  expect(r.sessions.ready).toBe(r.sessions.total);
}

describe('client-sim scenarios against a real server', () => {
  it('broadcast: every session gets every message once; fanout latency per delivery', async () => {
    const r = await run('broadcast', { messages: 5, rate: 20 });
    expectClean(r);
    expect(r.sent.messages).toBe(5);
    expect(r.delivery.expected).toBe(100);
    expect(r.delivery.delivered).toBe(100);
    expect(r.latency.fanout!.count).toBe(100);
    expect(r.latency.ready!.count).toBe(20);
    expect(r.latency.guild_create!.count).toBe(20);
    expect(r.latency.rest!.count).toBeGreaterThanOrEqual(5);
  });

  it('chat: many guilds, deliveries by membership only', async () => {
    const r = await run('chat', { guilds: 4, rate: 40, duration: 1 });
    expectClean(r);
    expect(r.sent.messages).toBe(40);
    // Each message reaches the members of its guild, not all 20 sessions.
    expect(r.delivery.expected).toBeGreaterThan(40);
    expect(r.delivery.expected).toBeLessThan(40 * 20);
  });

  it('connect-storm: identifies at a rate, READY and GUILD_CREATE for all, then delivery works', async () => {
    const r = await run('connect-storm', { sessions: 30, guilds: 3, rate: 100 });
    expectClean(r);
    expect(r.latency.connect!.count).toBe(30);
    expect(r.latency.ready!.count).toBe(30);
    expect(r.latency.guild_create!.count).toBe(30);
    expect(r.delivery.expected).toBe(30);
  });

  it('hot-guild: flood plus presence while half the sessions join; hot and quiet GUILD_CREATE reported apart', async () => {
    const r = await run('hot-guild', { guilds: 3, rate: 20, duration: 1.5 });
    expectClean(r);
    expect(r.notes.joined_during_flood).toBe(10);
    expect(r.latency.ready!.count).toBe(10);
    expect(r.latency.guild_create_hot!.count).toBeGreaterThan(0);
    expect(r.latency.guild_create_quiet!.count).toBe(10);
    expect(r.sent.presence).toBeGreaterThan(0);
    expect(r.latency.presence_fanout!.count).toBeGreaterThan(0);
  });

  it('presence: updates fanned out to every guild of the sender', async () => {
    const r = await run('presence', { guilds: 2, rate: 20, messages: 10 });
    expectClean(r);
    expect(r.sent.presence).toBe(10);
    // Every user is in both guilds: each update is due at all 20 sessions, once per guild.
    expect(r.delivery.expected).toBe(10 * 20 * 2);
  });

  it('resume-storm: cut connections resume and nothing is lost, repeated or reordered', async () => {
    const r = await run('resume-storm', { guilds: 2, rate: 20, duration: 2, cut: 0.5 });
    expectClean(r);
    expect(Number(r.notes.cut)).toBe(20); // two waves of half of 20
    expect(r.gateway.resumes).toBe(20);
    expect(r.gateway.resumesFailed).toBe(0);
    expect(r.latency.resume!.count).toBe(20);
    expect(r.delivery.delivered).toBe(r.delivery.expected);
  });

  it('sessions in worker threads account the same way', async () => {
    const r = await run('broadcast', { messages: 3, rate: 20, workers: 2 });
    expectClean(r);
    expect(r.delivery.delivered).toBe(60);
    expect(r.latency.fanout!.count).toBe(60);
  });
});
