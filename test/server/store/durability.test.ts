// Nothing acknowledged is lost: a real server process on each durable engine,
// stopped and started again, and killed with SIGKILL in the middle of a burst.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { DurableWorld } from '../../support/durable-server.js';
import { type TestDatabase, createTestDatabase } from '../../support/postgres.js';
import { TEST_DATABASE_ENV } from '../../support/server.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

interface Running {
  child: ChildProcess;
  url: string;
  world: DurableWorld | undefined;
  exited: Promise<unknown>;
}

/** Starts test/support/durable-server.ts on `databaseUrl` and waits for its JSON line. */
async function start(databaseUrl: string, setupUsers = 0): Promise<Running> {
  const args = ['--import', 'tsx', 'test/support/durable-server.ts', ...(setupUsers > 0 ? ['--setup', String(setupUsers)] : [])];
  // No GUILDHALL_TOKEN_SECRET: the secret the database keeps must make old tokens work after a restart.
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    // GUILDHALL_SQLITE_BINDING passes through (set by .ci/with-node for another Node's ABI).
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...TEST_DATABASE_ENV, DATABASE_URL: databaseUrl },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within 20 s: ${err}`)), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      const nl = out.indexOf('\n');
      if (nl !== -1) {
        clearTimeout(timer);
        resolve(out.slice(0, nl));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${err}`));
    });
  });
  const { url, world } = JSON.parse(line) as { url: string; world?: DurableWorld };
  return { child, url, world, exited };
}

async function stop(r: Running, signal: NodeJS.Signals): Promise<void> {
  r.child.kill(signal);
  await r.exited;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function api(base: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}/api/v10${path}`, {
    method,
    headers: { authorization: `Bot ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

interface Msg {
  id: string;
  content: string;
  edited_timestamp: string | null;
  reactions?: { emoji: { name: string }; count: number }[];
}

/** Every message of the channel, oldest first, paged with `before` as a client would. */
async function history(base: string, token: string, channelId: string): Promise<Msg[]> {
  const all: Msg[] = [];
  let before: string | undefined;
  for (;;) {
    const page = await api(base, token, 'GET', `/channels/${channelId}/messages?limit=100${before ? `&before=${before}` : ''}`);
    expect(page.status).toBe(200);
    const msgs = page.body as Msg[];
    all.push(...msgs);
    if (msgs.length < 100) break;
    before = msgs[msgs.length - 1]!.id;
  }
  return all.reverse();
}

const ascending = (a: string, b: string) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0);

type Engine = { name: string; url: () => Promise<string>; cleanup: () => Promise<void> };

const tmp = mkdtempSync(join(tmpdir(), 'guildhall-durability-'));
const databases: TestDatabase[] = [];
afterAll(async () => {
  rmSync(tmp, { recursive: true, force: true });
  for (const db of databases.splice(0)) await db.drop();
});

let files = 0;
const engines: Engine[] = [
  { name: 'SQLite file', url: async () => `sqlite:${join(tmp, `db-${++files}.sqlite`)}`, cleanup: async () => {} },
  {
    name: 'PostgreSQL',
    url: async () => {
      const db = await createTestDatabase('guildhall_durability');
      databases.push(db);
      return db.url;
    },
    cleanup: async () => {},
  },
];

describe.each(engines)('durability on $name', (engine) => {
  it('keeps guilds, members, messages, edits, deletes, reactions and tokens across a restart; new ids sort after old ones', async () => {
    const url = await engine.url();
    const first = await start(url, 2);
    const [owner, other] = first.world!.users;
    const guild = await api(first.url, owner!.token, 'POST', '/guilds', { name: 'Kept' });
    expect(guild.status).toBe(201);
    const channels = await api(first.url, owner!.token, 'GET', `/guilds/${guild.body.id}/channels`);
    const channelId = channels.body[0].id as string;
    expect((await api(first.url, owner!.token, 'PUT', `/guilds/${guild.body.id}/members/${other!.id}`, {})).status).toBeLessThan(300);
    const posted: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await api(first.url, i % 2 ? other!.token : owner!.token, 'POST', `/channels/${channelId}/messages`, { content: `m${i}` });
      expect(r.status).toBe(200);
      posted.push(r.body.id);
    }
    expect((await api(first.url, owner!.token, 'PATCH', `/channels/${channelId}/messages/${posted[0]}`, { content: 'edited' })).status).toBe(200);
    expect((await api(first.url, owner!.token, 'DELETE', `/channels/${channelId}/messages/${posted[2]}`)).status).toBe(204);
    expect((await api(first.url, other!.token, 'PUT', `/channels/${channelId}/messages/${posted[4]}/reactions/%F0%9F%91%8D/@me`)).status).toBe(204);
    await stop(first, 'SIGTERM');

    const second = await start(url);
    // The old tokens still work: the secret came from the database.
    const me = await api(second.url, other!.token, 'GET', '/users/@me');
    expect(me.status).toBe(200);
    expect(me.body.id).toBe(other!.id);
    const guilds = await api(second.url, other!.token, 'GET', '/users/@me/guilds');
    expect(guilds.body.map((g: { id: string }) => g.id)).toContain(guild.body.id);
    const members = await api(second.url, owner!.token, 'GET', `/guilds/${guild.body.id}/members?limit=10`);
    expect(members.body.map((m: { user: { id: string } }) => m.user.id).sort()).toEqual([owner!.id, other!.id].sort());

    const kept = await history(second.url, owner!.token, channelId);
    expect(kept.map((m) => m.id)).toEqual(posted.filter((_, i) => i !== 2));
    expect(kept[0]!.content).toBe('edited');
    expect(kept[0]!.edited_timestamp).not.toBeNull();
    expect(kept.find((m) => m.id === posted[4])!.reactions).toEqual([expect.objectContaining({ emoji: expect.objectContaining({ name: '👍' }), count: 1 })]);

    const after = await api(second.url, owner!.token, 'POST', `/channels/${channelId}/messages`, { content: 'after restart' });
    expect(after.status).toBe(200);
    expect(ascending(after.body.id, posted[posted.length - 1]!)).toBe(1);
    await stop(second, 'SIGTERM');
    await engine.cleanup();
  }, 60_000);

  it('enforce_nonce across a restart: a retry of a post the first server acknowledged returns that message, stored once', async () => {
    const url = await engine.url();
    const first = await start(url, 1);
    const { token } = first.world!.users[0]!;
    const { channelId } = first.world!;
    const body = { content: 'once', nonce: 'retry-after-restart', enforce_nonce: true };
    const posted = await api(first.url, token, 'POST', `/channels/${channelId}/messages`, body);
    expect(posted.status).toBe(200);
    // Its answer lost, the client retries; the server is another process by then (SIGKILL: nothing is handed on).
    await stop(first, 'SIGKILL');

    const second = await start(url);
    const retried = await api(second.url, token, 'POST', `/channels/${channelId}/messages`, { ...body, content: 'twice?' });
    expect(retried.status).toBe(200);
    expect(retried.body.id).toBe(posted.body.id);
    expect(retried.body.content).toBe('once');
    // Without enforce_nonce the same nonce creates, as on Discord.
    const loose = await api(second.url, token, 'POST', `/channels/${channelId}/messages`, { content: 'loose', nonce: 'retry-after-restart' });
    expect(loose.body.id).not.toBe(posted.body.id);
    expect((await history(second.url, token, channelId)).map((m) => m.content)).toEqual(['once', 'loose']);
    await stop(second, 'SIGTERM');
  }, 60_000);

  it('SIGKILL in the middle of a burst of 2,400 posts: every acknowledged message is in the history exactly once, in order', async () => {
    const url = await engine.url();
    const SENDERS = 8;
    const PER_SENDER = 300;
    const KILL_AFTER_ACKS = 1_000;
    const first = await start(url, SENDERS);
    const { users, channelId } = first.world!;
    const acked: string[][] = users.map(() => []);
    let acks = 0;
    let killed = false;
    const killing = new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (acks >= KILL_AFTER_ACKS) {
          clearInterval(check);
          killed = true;
          first.child.kill('SIGKILL');
          resolve();
        }
      }, 1);
    });
    // Each sender posts one message at a time, so its acknowledged messages have an order to keep.
    await Promise.all(
      users.map(async (u, s) => {
        for (let n = 0; n < PER_SENDER && !killed; n++) {
          const content = `s${s}-${n}`;
          try {
            const r = await api(first.url, u.token, 'POST', `/channels/${channelId}/messages`, { content });
            if (r.status === 200) {
              expect(r.body.content).toBe(content);
              acked[s]!.push(content);
              acks++;
            }
          } catch {
            return; // the connection died with the server: not acknowledged
          }
        }
      }),
    );
    await killing;
    await first.exited;
    expect(acks).toBeGreaterThanOrEqual(KILL_AFTER_ACKS);
    expect(acks).toBeLessThan(SENDERS * PER_SENDER); // the kill came mid-burst

    const second = await start(url);
    const kept = await history(second.url, users[0]!.token, channelId);
    const contents = kept.map((m) => m.content);
    // Exactly once: no content twice (a post the kill interrupted may be there or not, but once).
    expect(new Set(contents).size).toBe(contents.length);
    const position = new Map(contents.map((c, i) => [c, i]));
    for (const mine of acked) {
      const at = mine.map((c) => position.get(c));
      expect(at.every((i) => i !== undefined)).toBe(true);
      // In the order each sender had them acknowledged.
      expect([...at].sort((a, b) => a! - b!)).toEqual(at);
    }
    // Ids order the history as the server committed it.
    expect(kept.map((m) => m.id)).toEqual([...kept.map((m) => m.id)].sort(ascending));
    await stop(second, 'SIGTERM');
  }, 90_000);
});
