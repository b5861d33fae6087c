// PostgreSQL goes away under load and comes back: writes answer 503 with
// Retry-After and Discord's body, the gateway keeps serving, the server
// reconnects by itself, and nothing acknowledged is lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayClient } from '../../support/gateway-client.js';
import { type TestDatabase, createTestDatabase, viaPort } from '../../support/postgres.js';
import { type TestServer, startTestServer } from '../../support/server.js';
import { type TcpProxy, startTcpProxy } from '../../support/tcp-proxy.js';

let db: TestDatabase;
let proxy: TcpProxy;
let t: TestServer;

beforeAll(async () => {
  db = await createTestDatabase('guildhall_outage');
  proxy = await startTcpProxy({ host: '127.0.0.1', port: 5432 });
  t = await startTestServer({ DATABASE_URL: viaPort(db.url, proxy.port) }, { rateLimitPerSecond: 100_000 });
});

afterAll(async () => {
  await t?.close();
  await proxy?.close();
  await db?.drop();
});

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('PostgreSQL outage', () => {
  it('answers 503 with Retry-After while cut off, keeps the gateway up, and recovers without a restart', async () => {
    const alice = await t.user('alice');
    const guild = await t.guild(alice.id, []);
    const gw = await GatewayClient.connect(t.url);
    gw.identify(alice.token);
    await gw.waitForDispatch('GUILD_CREATE');

    const acked: string[] = [];
    const post = async (content: string) => {
      const res = await t.rest(alice.token, 'POST', `/channels/${guild.channelId}/messages`, { content });
      const body = (await res.json()) as { id?: string; code?: number; message?: string };
      if (res.status === 200) acked.push(body.id!);
      return { status: res.status, retryAfter: res.headers.get('retry-after'), body };
    };

    for (let i = 0; i < 10; i++) expect((await post(`before-${i}`)).status).toBe(200);

    // Cut during a burst: every answer is a 200 (committed before the cut) or a clean 503.
    const burst = Array.from({ length: 40 }, (_, i) => post(`during-${i}`));
    await proxy.cut();
    const during = await Promise.all(burst);
    for (const r of during) expect([200, 503]).toContain(r.status);
    const refused = await post('while-down');
    expect(refused.status).toBe(503);
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);
    expect(refused.body).toEqual(expect.objectContaining({ code: expect.any(Number), message: expect.any(String) }));

    // The gateway keeps serving from memory: a heartbeat is answered.
    const acks = gw.received.filter((p) => p.op === 11).length;
    gw.send(1, null);
    await gw.waitFor((received) => received.filter((p) => p.op === 11).length > acks);
    // Alive (restarting would only drop sessions), not ready (writes should go elsewhere).
    const health = await fetch(`${t.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', database: 'UNAVAILABLE' });
    expect((await fetch(`${t.url}/readyz`)).status).toBe(503);

    await proxy.restore();
    await until(async () => (await post('after')).status === 200, 15_000);
    expect(await (await fetch(`${t.url}/readyz`)).json()).toEqual({ status: 'ok', database: 'ok' });

    // Every acknowledged message is there exactly once.
    const ids: string[] = [];
    let before: string | undefined;
    for (;;) {
      const page = await t.api(`/channels/${guild.channelId}/messages?limit=100${before ? `&before=${before}` : ''}`, { token: alice.token });
      expect(page.status).toBe(200);
      ids.push(...page.body.map((m: { id: string }) => m.id));
      if (page.body.length < 100) break;
      before = page.body[page.body.length - 1].id;
    }
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of acked) expect(ids).toContain(id);
    gw.close();
  }, 60_000);
});
