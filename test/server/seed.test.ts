// The demo world: who is where, and tokens that work.
import { describe, expect, it } from 'vitest';
import { verifyToken } from '../../server/auth/token.js';
import { loadConfig } from '../../server/config.js';
import { seedDemoWorld } from '../../server/seed.js';
import { openSqlStore } from '../../server/store/sql-store.js';
import { SQLITE_OPTIONS } from '../support/sqlite.js';

const config = loadConfig({ GUILDHALL_TOKEN_SECRET: 'seed-test-secret-0123456789' });
const memory = () => openSqlStore({ kind: 'sqlite', path: ':memory:' }, SQLITE_OPTIONS);

describe('seedDemoWorld', () => {
  it('makes alice, bob, carol and a bot, in three guilds with channels and messages', async () => {
    const store = await memory();
    const { users, guilds, created } = await seedDemoWorld({ store, config });
    expect(created).toBe(true);
    expect(users.map((u) => u.username)).toEqual(['alice', 'bob', 'carol', 'guildhall-bot']);
    expect(users.find((u) => u.username === 'guildhall-bot')!.bot).toBe(true);
    for (const u of users) expect(verifyToken(config.tokenSecret, u.token)).toBe(u.id);

    const id = (name: string) => users.find((u) => u.username === name)!.id;
    const memberNames = async (guildId: string) =>
      (await store.listMembers(guildId, { limit: 1000 })).map((m) => m.user.username).sort();
    const byName = Object.fromEntries(guilds.map((g) => [g.name, g]));
    expect(await memberNames(byName['Guildhall Lobby']!.id)).toEqual(['alice', 'bob', 'carol', 'guildhall-bot']);
    expect(await memberNames(byName['Tavern']!.id)).toEqual(['alice', 'bob']);
    expect(await memberNames(byName['Quiet Room']!.id)).toEqual(['carol']);
    expect(Object.keys(byName['Guildhall Lobby']!.channels).sort()).toEqual(['announcements', 'general', 'off-topic']);
    const messages = await store.listMessages(byName['Guildhall Lobby']!.channels.general!);
    expect(messages.length).toBeGreaterThanOrEqual(3);
    expect(messages.at(-1)!.author.id).toBe(id('alice'));
    await store.close();
  });

  it('does not duplicate the world on a second run', async () => {
    const store = await memory();
    const first = await seedDemoWorld({ store, config });
    const second = await seedDemoWorld({ store, config });
    expect(second.created).toBe(false);
    expect(second.users.map((u) => u.id)).toEqual(first.users.map((u) => u.id));
    expect(await store.listGuildsForUser(first.users[0]!.id)).toHaveLength(2);
    await store.close();
  });

  it('writes nothing into a database that is not empty', async () => {
    const store = await memory();
    const dave = await store.createUser({ username: 'dave' });
    const result = await seedDemoWorld({ store, config });
    expect(result).toEqual({ users: [], guilds: [], created: false });
    expect(await store.findUserByUsername('alice')).toBeUndefined();
    expect(await store.listGuildsForUser(dave.id)).toEqual([]);
    await store.close();
  });
});
