// The gateway over real sockets against a server started in-process on port 0.
import { connect as connectTcp } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../actors/index.js';
import { callGuild } from '../../../server/context.js';
import { GatewayCloseCode } from '../../../server/errors.js';
import { GatewayIntentBits as I } from '../../../server/gateway/protocol.js';
import { sessionKey } from '../../../server/gateway/session-actor.js';
import { GatewayClient, type Payload } from '../../support/gateway-client.js';
import { until } from '../../support/until.js';
import { startTestServer, type TestServer } from '../../support/world.js';

const ALL = 0b1111111111111111 | I.MessageContent;
const servers: TestServer[] = [];
const clients: GatewayClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  for (const s of servers.splice(0)) await s.close();
});

async function start(env: Record<string, string> = {}, clock?: ManualClock) {
  const t = await startTestServer(env, {}, clock ? { clock } : {});
  servers.push(t);
  return t;
}

async function connect(t: TestServer, query?: string) {
  const c = await GatewayClient.connect(t.url, query);
  clients.push(c);
  return c;
}

/** Connects, identifies and waits for READY and every GUILD_CREATE. */
async function session(t: TestServer, token: string, guilds: number, intents = ALL) {
  const c = await connect(t);
  c.identify(token, intents);
  await c.waitForDispatch('READY');
  if (guilds > 0 && intents & I.Guilds) await c.waitForDispatch('GUILD_CREATE', guilds);
  return c;
}

const seqs = (ps: Payload[]) => ps.map((p) => p.s);

describe('gateway: identify', () => {
  it('HELLO -> IDENTIFY -> READY -> GUILD_CREATE for each guild, with channels and members', async () => {
    const t = await start();
    const alice = await t.user('alice');
    const bob = await t.user('bob');
    const g1 = await t.guild(alice.id, [bob.id], 'one');
    const g2 = await t.guild(bob.id, [alice.id], 'two');
    const c = await connect(t);
    const hello = await c.waitFor((r) => r.find((p) => p.op === 10));
    expect(hello.d.heartbeat_interval).toBeGreaterThan(0);
    c.identify(alice.token, ALL);
    const [ready] = await c.waitForDispatch('READY');
    expect(ready!.s).toBe(1);
    expect(ready!.d).toMatchObject({ v: 10, user: { id: alice.id, username: 'alice' }, shard: [0, 1] });
    expect(typeof ready!.d.session_id).toBe('string');
    expect(ready!.d.resume_gateway_url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/gateway$/);
    expect(ready!.d.guilds.map((g: { id: string }) => g.id).sort()).toEqual([g1.id, g2.id].sort());
    expect(ready!.d.guilds.every((g: { unavailable: boolean }) => g.unavailable)).toBe(true);
    const creates = await c.waitForDispatch('GUILD_CREATE', 2);
    expect(seqs(creates).sort()).toEqual([2, 3]);
    const one = creates.find((p) => p.d.id === g1.id)!.d;
    expect(one.name).toBe('one');
    expect(one.channels.map((ch: { name: string }) => ch.name)).toContain('general');
    expect(one.members.map((m: { user: { id: string } }) => m.user.id).sort()).toEqual([alice.id, bob.id].sort());
    expect(one.unavailable).toBe(false);
  });

  it('shards route guilds by (guild_id >> 22) % num_shards', async () => {
    const t = await start();
    const alice = await t.user('alice');
    const guilds = [];
    for (let i = 0; i < 6; i++) guilds.push(await t.guild(alice.id, [], `g${i}`));
    const seen: string[][] = [];
    for (const shard of [0, 1]) {
      const c = await connect(t);
      c.identify(alice.token, ALL, { shard: [shard, 2] });
      const [ready] = await c.waitForDispatch('READY');
      const ids = ready!.d.guilds.map((g: { id: string }) => g.id) as string[];
      for (const id of ids) expect(Number((BigInt(id) >> 22n) % 2n)).toBe(shard);
      seen.push(ids);
    }
    expect([...seen[0]!, ...seen[1]!].sort()).toEqual(guilds.map((g) => g.id).sort());
  });
});

describe('gateway: dispatch', () => {
  it('a message reaches every member session exactly once, with increasing seq, and no one else', async () => {
    const t = await start();
    const [alice, bob, carol] = [await t.user('alice'), await t.user('bob'), await t.user('carol')];
    const g = await t.guild(alice.id, [bob.id]);
    const a1 = await session(t, alice.token, 1);
    const a2 = await session(t, alice.token, 1);
    const b = await session(t, bob.token, 1);
    const c = await session(t, carol.token, 0);
    for (let i = 0; i < 5; i++) {
      const res = await t.rest(bob.token, 'POST', `/channels/${g.channelId}/messages`, { content: `hello ${i}` });
      expect(res.status).toBe(200);
    }
    for (const s of [a1, a2, b]) {
      const got = await s.waitForDispatch('MESSAGE_CREATE', 5);
      expect(got.map((p) => p.d.content)).toEqual([0, 1, 2, 3, 4].map((i) => `hello ${i}`));
      const all = s.dispatches().map((p) => p.s!);
      expect(all).toEqual(all.map((_, i) => i + 1));
      expect(got[0]!.d).toMatchObject({ guild_id: g.id, channel_id: g.channelId, author: { id: bob.id } });
    }
    // A last message, then none more than that: a duplicate of the first five would have come before it.
    await t.rest(bob.token, 'POST', `/channels/${g.channelId}/messages`, { content: 'last' });
    for (const s of [a1, a2, b]) {
      await s.waitFor((r) => r.find((p) => p.t === 'MESSAGE_CREATE' && p.d.content === 'last'));
      expect(s.dispatches('MESSAGE_CREATE')).toHaveLength(6);
    }
    expect(c.dispatches('MESSAGE_CREATE')).toHaveLength(0);
  });

  it('intents filter what a session receives; without MESSAGE_CONTENT the content is empty', async () => {
    const t = await start();
    const alice = await t.user('alice');
    const g = await t.guild(alice.id, []);
    const everything = await session(t, alice.token, 1, ALL);
    const noMessages = await session(t, alice.token, 1, I.Guilds | I.GuildMessageReactions);
    const noContent = await session(t, alice.token, 1, I.Guilds | I.GuildMessages);
    const res = await t.rest(alice.token, 'POST', `/channels/${g.channelId}/messages`, { content: 'secret' });
    const { id } = (await res.json()) as { id: string };
    await t.rest(alice.token, 'PUT', `/channels/${g.channelId}/messages/${id}/reactions/${encodeURIComponent('👍')}/@me`);
    await everything.waitForDispatch('MESSAGE_REACTION_ADD');
    await noMessages.waitForDispatch('MESSAGE_REACTION_ADD');
    expect(noMessages.dispatches('MESSAGE_CREATE')).toHaveLength(0);
    const [stripped] = await noContent.waitForDispatch('MESSAGE_CREATE');
    expect(stripped!.d.content).toBe('');
    expect(everything.dispatches('MESSAGE_CREATE')[0]!.d.content).toBe('secret');
    expect(noContent.dispatches('MESSAGE_REACTION_ADD')).toHaveLength(0);
  });

  it('typing, presence, member add/remove and channel create reach the guild', async () => {
    const t = await start();
    const alice = await t.user('alice');
    const bob = await t.user('bob');
    const g = await t.guild(alice.id, []);
    const a = await session(t, alice.token, 1);
    const b = await session(t, bob.token, 0);
    expect((await t.rest(alice.token, 'PUT', `/guilds/${g.id}/members/${bob.id}`)).status).toBe(201);
    await a.waitForDispatch('GUILD_MEMBER_ADD');
    // Bob's live session joins the guild at once.
    const [joined] = await b.waitForDispatch('GUILD_CREATE');
    expect(joined!.d.id).toBe(g.id);
    await a.waitFor((r) => r.find((p) => p.t === 'PRESENCE_UPDATE' && p.d.user.id === bob.id));
    b.send(3, { since: null, activities: [], status: 'dnd', afk: false });
    await a.waitFor((r) => r.find((p) => p.t === 'PRESENCE_UPDATE' && p.d.status === 'dnd'));
    await t.rest(bob.token, 'POST', `/channels/${g.channelId}/typing`);
    await a.waitForDispatch('TYPING_START');
    await t.rest(alice.token, 'POST', `/guilds/${g.id}/channels`, { name: 'news' });
    await b.waitForDispatch('CHANNEL_CREATE');
    expect((await t.rest(alice.token, 'DELETE', `/guilds/${g.id}/members/${bob.id}`)).status).toBe(204);
    await b.waitForDispatch('GUILD_DELETE');
    await a.waitForDispatch('GUILD_MEMBER_REMOVE');
  });
});

describe('gateway: heartbeat and resume', () => {
  it('acknowledges heartbeats', async () => {
    const t = await start();
    const c = await connect(t);
    c.send(1, null);
    await c.waitFor((r) => r.find((p) => p.op === 11));
  });

  it('RESUME replays exactly what was missed, then RESUMED', async () => {
    const t = await start();
    const alice = await t.user('alice');
    const g = await t.guild(alice.id, []);
    const first = await session(t, alice.token, 1);
    // Her own presence going online is the last event of the connect.
    await first.waitForDispatch('PRESENCE_UPDATE');
    const sessionId = first.dispatches('READY')[0]!.d.session_id as string;
    const lastSeq = Math.max(...first.dispatches().map((p) => p.s!));
    first.close(4000); // not 1000/1001: the session stays resumable
    await first.waitForClose();
    for (let i = 0; i < 3; i++) await t.rest(alice.token, 'POST', `/channels/${g.channelId}/messages`, { content: `missed ${i}` });
    const second = await connect(t);
    second.send(6, { token: alice.token, session_id: sessionId, seq: lastSeq });
    const [resumed] = await second.waitForDispatch('RESUMED');
    const replayed = second.dispatches('MESSAGE_CREATE');
    expect(replayed.map((p) => p.d.content)).toEqual(['missed 0', 'missed 1', 'missed 2']);
    expect(replayed.map((p) => p.s)).toEqual([lastSeq + 1, lastSeq + 2, lastSeq + 3]);
    expect(resumed!.s).toBe(lastSeq + 4);
    // And it goes on receiving live.
    await t.rest(alice.token, 'POST', `/channels/${g.channelId}/messages`, { content: 'live' });
    const live = await second.waitFor((r) => r.find((p) => p.d?.content === 'live'));
    expect(live.s).toBe(lastSeq + 5);
  });

  it('INVALID_SESSION for an unknown session, after the resume window, or past the replay buffer', async () => {
    const clock = new ManualClock();
    const t = await start({ GUILDHALL_RESUME_TIMEOUT_MS: '60000', GUILDHALL_RESUME_BUFFER: '2' }, clock);
    const alice = await t.user('alice');
    const g = await t.guild(alice.id, []);
    const unknown = await connect(t);
    unknown.send(6, { token: alice.token, session_id: 'nope', seq: 1 });
    expect((await unknown.waitFor((r) => r.find((p) => p.op === 9))).d).toBe(false);

    // Missed more than the buffer holds.
    const s1 = await session(t, alice.token, 1);
    const id1 = s1.dispatches('READY')[0]!.d.session_id;
    const seq1 = Math.max(...s1.dispatches().map((p) => p.s!));
    s1.close(4000);
    await s1.waitForClose();
    for (let i = 0; i < 3; i++) await t.rest(alice.token, 'POST', `/channels/${g.channelId}/messages`, { content: `m${i}` });
    const r1 = await connect(t);
    r1.send(6, { token: alice.token, session_id: id1, seq: seq1 });
    expect((await r1.waitFor((r) => r.find((p) => p.op === 9))).d).toBe(false);

    // Came back too late.
    const s2 = await session(t, alice.token, 1);
    const id2 = s2.dispatches('READY')[0]!.d.session_id;
    s2.close(4000);
    await s2.waitForClose();
    // The session waits for a RESUME one resume timeout, then stops. Time moves until it has
    // (the detach may reach the session after a first move, which then had nothing to expire).
    const alive = () => t.server.ctx.system.whereis(sessionKey(id2)) !== undefined;
    clock.advance(59_999);
    expect(alive()).toBe(true);
    await until(() => {
      clock.advance(60_000);
      return !alive();
    }, 'the detached session to expire');
    const r2 = await connect(t);
    r2.send(6, { token: alice.token, session_id: id2, seq: 1 });
    expect((await r2.waitFor((r) => r.find((p) => p.op === 9))).d).toBe(false);
  });
});

describe('gateway: close codes', () => {
  async function expectClose(t: TestServer, code: number, act: (c: GatewayClient) => void | Promise<void>, query?: string) {
    const c = await connect(t, query);
    await act(c);
    expect(await c.waitForClose()).toBe(code);
    expect(c.closeReason.length).toBeGreaterThan(0);
  }

  it('4001 unknown opcode, 4002 decode errors, 4003 not authenticated', async () => {
    const t = await start();
    await expectClose(t, GatewayCloseCode.UNKNOWN_OPCODE, (c) => c.send(99, null));
    await expectClose(t, GatewayCloseCode.UNKNOWN_OPCODE, (c) => c.send(0, null)); // DISPATCH is server-only
    await expectClose(t, GatewayCloseCode.DECODE_ERROR, (c) => c.sendRaw('{not json'));
    await expectClose(t, GatewayCloseCode.DECODE_ERROR, (c) => c.sendRaw(JSON.stringify({ op: 1, d: 'x'.repeat(5000) })));
    await expectClose(t, GatewayCloseCode.DECODE_ERROR, (c) => c.send(2, { token: 42, intents: 0, properties: { os: 'x', browser: 'x', device: 'x' } }));
    await expectClose(t, GatewayCloseCode.NOT_AUTHENTICATED, (c) => c.send(3, { since: null, activities: [], status: 'online', afk: false }));
  });

  it('4004 authentication failed, 4005 already authenticated, 4007 invalid seq', async () => {
    const t = await start();
    const alice = await t.user('alice');
    await expectClose(t, GatewayCloseCode.AUTHENTICATION_FAILED, (c) => c.identify('garbage'));
    await expectClose(t, GatewayCloseCode.AUTHENTICATION_FAILED, (c) => c.send(6, { token: 'garbage', session_id: 'x', seq: 1 }));
    await expectClose(t, GatewayCloseCode.ALREADY_AUTHENTICATED, async (c) => {
      c.identify(alice.token);
      await c.waitForDispatch('READY');
      c.identify(alice.token);
    });
    const s = await session(t, alice.token, 0);
    const id = s.dispatches('READY')[0]!.d.session_id;
    s.close(4000);
    await s.waitForClose();
    await expectClose(t, GatewayCloseCode.INVALID_SEQ, (c) => c.send(6, { token: alice.token, session_id: id, seq: 999 }));
  });

  it('4008 rate limited past 120 events a minute', async () => {
    const t = await start();
    await expectClose(t, GatewayCloseCode.RATE_LIMITED, (c) => {
      for (let i = 0; i < 121; i++) c.send(1, null);
    });
  });

  it('4009 session timed out without heartbeats', async () => {
    const clock = new ManualClock();
    const t = await start({ GUILDHALL_HEARTBEAT_INTERVAL_MS: '1000' }, clock);
    const c = await connect(t);
    await c.waitFor((r) => r.find((p) => p.op === 10));
    // A client may be half an interval late: 1.5 s.
    clock.advance(1_499);
    c.send(1, null);
    await c.waitFor((r) => r.find((p) => p.op === 11));
    clock.advance(1_499);
    expect(t.server.gateway.stats().closes[GatewayCloseCode.SESSION_TIMED_OUT]).toBeUndefined();
    clock.advance(1);
    expect(await c.waitForClose()).toBe(GatewayCloseCode.SESSION_TIMED_OUT);
  });

  it('4012 invalid API version, 4013 invalid intents, 4014 disallowed intents', async () => {
    const t = await start({ GUILDHALL_PRIVILEGED_INTENTS: 'false' });
    const alice = await t.user('alice');
    await expectClose(t, GatewayCloseCode.INVALID_API_VERSION, () => {}, '?v=9&encoding=json');
    await expectClose(t, GatewayCloseCode.INVALID_INTENTS, (c) => c.identify(alice.token, 1 << 30));
    await expectClose(t, GatewayCloseCode.DISALLOWED_INTENTS, (c) => c.identify(alice.token, I.Guilds | I.GuildMembers));
    // Non-privileged intents are still fine.
    const ok = await session(t, alice.token, 0, I.Guilds | I.GuildMessages);
    expect(ok.closeCode).toBeUndefined();
  });

  it('a closed session leaves nothing behind in the guild or the actor system', async () => {
    const t = await start({ GUILDHALL_RESUME_TIMEOUT_MS: '50' });
    const alice = await t.user('alice');
    await t.guild(alice.id, []);
    const before = t.server.ctx.system.size;
    const c = await session(t, alice.token, 1);
    expect(t.server.ctx.sessions.size).toBe(1);
    c.close(1000);
    await c.waitForClose();
    await until(() => t.server.ctx.sessions.size === 0, 'the session to stop');
    // The guild actor stays (it was spawned by the connect); the session actor is gone.
    expect(t.server.ctx.system.size).toBe(before + 1);
  });
});

describe('gateway: slow consumers', () => {
  it('a socket that stops reading is closed with a resumable code once its buffer passes the bound', async () => {
    const t = await start({ GUILDHALL_MAX_BUFFERED_BYTES: String(256 * 1024) });
    const alice = await t.user('alice');
    const g = await t.guild(alice.id, []);
    const c = await session(t, alice.token, 1);
    c.socket!.pause();
    const content = 'x'.repeat(1900);
    // Post straight through the guild actor: the point is the socket, not HTTP.
    let sent = 0;
    while (t.server.gateway.stats().slowConsumers === 0 && sent < 20_000) {
      await callGuild(t.server.ctx, g.id, { type: 'create_message', channelId: g.channelId, authorId: alice.id, content });
      sent++;
    }
    expect(t.server.gateway.stats().slowConsumers).toBe(1);
    c.socket!.resume();
    expect(await c.waitForClose(10_000)).toBe(GatewayCloseCode.UNKNOWN_ERROR);
    expect(c.closeReason).toContain('slow consumer');
  });
});

describe('gateway: upgrades it refuses', () => {
  /** Sends a raw upgrade request; resolves with what came back (empty if the server said nothing). */
  function rawUpgrade(t: TestServer, target: string, resetAfterWrite = false): Promise<string> {
    const { port } = new URL(t.url);
    return new Promise((resolve) => {
      const socket = connectTcp(Number(port), '127.0.0.1', () => {
        socket.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
        // An RST while the server answers: what a client giving up on a stopping server does.
        if (resetAfterWrite) socket.resetAndDestroy();
      });
      let got = '';
      socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
      socket.on('error', () => {});
      socket.on('close', () => resolve(got));
    });
  }

  it('answers 400 to a target URL it cannot read, and keeps serving', async () => {
    const t = await start();
    expect(await rawUpgrade(t, 'http://[')).toMatch(/^HTTP\/1\.1 400 /);
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
  });

  it('survives clients resetting the connection while it refuses them (503 while stopping)', async () => {
    const t = await start();
    t.server.gateway.stopAccepting();
    await Promise.all(Array.from({ length: 50 }, () => rawUpgrade(t, '/gateway?v=10', true)));
    expect(await rawUpgrade(t, '/gateway?v=10')).toMatch(/^HTTP\/1\.1 503 /);
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
  });
});
