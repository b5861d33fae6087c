// Identify concurrency over real sockets, time on a ManualClock: max_concurrency
// IDENTIFYs per user per bucket (shard_id % max_concurrency) per 5 seconds;
// past it op 9 Invalid Session, as Discord answers.
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../actors/index.js';
import { IDENTIFY_WINDOW_MS, IdentifyLimiter } from '../../../server/gateway/identify-limiter.js';
import { GatewayOp } from '../../../server/gateway/protocol.js';
import { GatewayClient } from '../../support/gateway-client.js';
import { startTestServer, type TestServer } from '../../support/world.js';

const servers: TestServer[] = [];
const clients: GatewayClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  for (const s of servers.splice(0)) await s.close();
});

async function start(maxConcurrency: number) {
  const clock = new ManualClock();
  const t = await startTestServer({ GUILDHALL_MAX_CONCURRENCY: String(maxConcurrency) }, {}, { clock });
  servers.push(t);
  return { t, clock };
}

type Outcome = 'ready' | 'invalid_session';

/** IDENTIFYs on `c` and says whether READY or op 9 came back (on an open socket either way). */
async function identify(c: GatewayClient, token: string, shard?: [number, number]): Promise<Outcome> {
  const before = c.received.length;
  c.identify(token, 1, shard ? { shard } : {});
  const answer = await c.waitFor((r) => r.slice(before).find((p) => p.t === 'READY' || p.op === GatewayOp.INVALID_SESSION));
  if (answer.op === GatewayOp.INVALID_SESSION) expect(answer.d).toBe(false);
  return answer.t === 'READY' ? 'ready' : 'invalid_session';
}

async function connect(t: TestServer): Promise<GatewayClient> {
  const c = await GatewayClient.connect(t.url);
  clients.push(c);
  return c;
}

describe('identify concurrency', () => {
  it('admits max_concurrency IDENTIFYs per user in 5 s, then op 9 until the window passes', async () => {
    const { t, clock } = await start(2);
    const alice = await t.user('alice');
    const bob = await t.user('bob');
    expect(await identify(await connect(t), alice.token)).toBe('ready');
    expect(await identify(await connect(t), alice.token)).toBe('ready');
    const third = await connect(t);
    expect(await identify(third, alice.token)).toBe('invalid_session');
    // Another user has buckets of their own.
    expect(await identify(await connect(t), bob.token)).toBe('ready');
    clock.advance(4_999);
    expect(await identify(third, alice.token)).toBe('invalid_session');
    clock.advance(1);
    // The refused socket stayed open, and IDENTIFYs again once the window has passed.
    expect(await identify(third, alice.token)).toBe('ready');
    expect(third.closeCode).toBeUndefined();
    // RESUME is not an IDENTIFY: it does not count.
    const sessionId = third.dispatches('READY')[0]!.d.session_id as string;
    expect(await identify(await connect(t), alice.token)).toBe('ready');
    third.close(4000);
    await third.waitForClose();
    const resumed = await connect(t);
    resumed.send(6, { token: alice.token, session_id: sessionId, seq: 1 });
    await resumed.waitForDispatch('RESUMED');
  });

  it('buckets by shard_id % max_concurrency', async () => {
    const { t } = await start(2);
    const alice = await t.user('alice');
    // Shards 0 and 2 share bucket 0, 1 and 3 bucket 1: two each.
    for (const shard of [0, 2, 1, 3]) expect(await identify(await connect(t), alice.token, [shard, 4])).toBe('ready');
    expect(await identify(await connect(t), alice.token, [0, 4])).toBe('invalid_session');
    expect(await identify(await connect(t), alice.token, [3, 4])).toBe('invalid_session');
  });

  it('GET /gateway/bot advertises the configured max_concurrency', async () => {
    const { t } = await start(7);
    const alice = await t.user('alice');
    const res = await t.rest(alice.token, 'GET', '/gateway/bot');
    expect(((await res.json()) as { session_start_limit: { max_concurrency: number } }).session_start_limit.max_concurrency).toBe(7);
  });
});

describe('IdentifyLimiter', () => {
  it('forgets buckets once their window has passed: memory follows recent IDENTIFYs', () => {
    const clock = new ManualClock();
    const limiter = new IdentifyLimiter(1, clock);
    for (let u = 0; u < 1000; u++) expect(limiter.tryStart(`user${u}`, 0)).toBe(true);
    expect(limiter.tryStart('user0', 0)).toBe(false);
    expect(limiter.size).toBe(1000);
    clock.advance(IDENTIFY_WINDOW_MS);
    expect(limiter.tryStart('late', 0)).toBe(true);
    expect(limiter.size).toBe(1);
    expect(limiter.tryStart('user0', 0)).toBe(true);
  });
});
