// One gateway connection over a real socket: what it answers bad frames with,
// and how long it waits for a client to authenticate. Time is a ManualClock.
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../actors/index.js';
import { GatewayCloseCode } from '../../../server/errors.js';
import { GatewayClient } from '../../support/gateway-client.js';
import { startTestServer, type TestServer } from '../../support/world.js';

const servers: TestServer[] = [];
const clients: GatewayClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  for (const s of servers.splice(0)) await s.close();
});

async function start(env: Record<string, string> = {}, clock = new ManualClock()) {
  const t = await startTestServer(env, {}, { clock });
  servers.push(t);
  return { t, clock };
}

/** A connected client that has its HELLO (so the server's timers are armed). */
async function connect(t: TestServer): Promise<GatewayClient> {
  const c = await GatewayClient.connect(t.url);
  clients.push(c);
  await c.waitFor((r) => r.find((p) => p.op === 10));
  return c;
}

/** Sends a heartbeat and waits for its ACK: proof the socket is open and served. */
async function heartbeat(c: GatewayClient): Promise<void> {
  const acks = c.received.filter((p) => p.op === 11).length;
  c.send(1, null);
  await c.waitFor((r) => r.filter((p) => p.op === 11).length > acks);
}

describe('connection: bad frames close 4002 or 4013, as Discord does', () => {
  it('intents past 32 bits are invalid (4013), not cut to their low bits', async () => {
    const { t } = await start();
    const alice = await t.user('alice');
    for (const intents of [2 ** 32 + 513, 2 ** 40, 2 ** 31]) {
      const c = await connect(t);
      c.identify(alice.token, intents);
      expect(await c.waitForClose()).toBe(GatewayCloseCode.INVALID_INTENTS);
    }
  });

  it('a frame over the WebSocket size limit closes 4002, not 1009', async () => {
    const { t } = await start();
    for (const size of [8 * 1024, 100 * 1024, 1024 * 1024]) {
      const c = await connect(t);
      c.sendRaw(JSON.stringify({ op: 1, d: null, t: 'x'.repeat(size) }));
      expect(await c.waitForClose()).toBe(GatewayCloseCode.DECODE_ERROR);
      expect(c.closeReason).toMatch(/^Decode error/);
    }
    // And the server still serves.
    await heartbeat(await connect(t));
    expect(t.server.gateway.stats().closes[GatewayCloseCode.DECODE_ERROR]).toBe(3);
  });

  it('a text frame that is not UTF-8 closes 4002, not 1007', async () => {
    const { t } = await start();
    const c = await connect(t);
    const bytes = Buffer.concat([Buffer.from('{"op":1,"d":null,"t":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    c.ws.send(bytes, { binary: false });
    expect(await c.waitForClose()).toBe(GatewayCloseCode.DECODE_ERROR);
    expect(t.server.gateway.stats().closes[GatewayCloseCode.DECODE_ERROR]).toBe(1);
  });
});

describe('connection: a socket must authenticate in time', () => {
  it('one that heartbeats but never IDENTIFYs is closed 4009 after GUILDHALL_IDENTIFY_TIMEOUT_MS', async () => {
    const { t, clock } = await start({ GUILDHALL_IDENTIFY_TIMEOUT_MS: '20000', GUILDHALL_HEARTBEAT_INTERVAL_MS: '10000' });
    const c = await connect(t);
    for (let ms = 0; ms < 19_000; ms += 9_500) {
      clock.advance(9_500);
      await heartbeat(c);
    }
    clock.advance(999);
    await heartbeat(c); // 19,999 ms: still open
    clock.advance(1);
    expect(await c.waitForClose()).toBe(GatewayCloseCode.SESSION_TIMED_OUT);
  });

  it('an identified socket is not held to it, and neither is a resumed one', async () => {
    const { t, clock } = await start({ GUILDHALL_IDENTIFY_TIMEOUT_MS: '20000', GUILDHALL_HEARTBEAT_INTERVAL_MS: '10000' });
    const alice = await t.user('alice');
    const c = await connect(t);
    c.identify(alice.token);
    const [ready] = await c.waitForDispatch('READY');
    for (let i = 0; i < 5; i++) {
      clock.advance(9_000);
      await heartbeat(c);
    }
    c.close(4000);
    await c.waitForClose();
    const resumed = await connect(t);
    resumed.send(6, { token: alice.token, session_id: ready!.d.session_id, seq: ready!.s });
    await resumed.waitForDispatch('RESUMED');
    for (let i = 0; i < 5; i++) {
      clock.advance(9_000);
      await heartbeat(resumed);
    }
  });
});
