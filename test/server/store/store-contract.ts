// The store contract: what every engine must do, run by sql-store.test.ts
// against SQLite (a file and :memory:) and PostgreSQL.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compareSnowflakes, timestampOf } from '../../../server/ids/snowflake.js';
import type { DatabaseTarget } from '../../../server/store/database.js';
import { StoreError, type StoreErrorCode } from '../../../server/store/errors.js';
import { type SqlStore, type SqlStoreOptions, openSqlStore } from '../../../server/store/sql-store.js';
import { SQLITE_OPTIONS } from '../../support/sqlite.js';
import { type GuildWrite, MAX_REACTIONS_PER_MESSAGE, type UserRecord } from '../../../server/store/store.js';

export interface EngineUnderTest {
  /** A target naming an empty database. */
  fresh(): Promise<DatabaseTarget>;
  /** False for :memory: (a second open is another database). */
  durable: boolean;
}

export const T0 = Date.UTC(2025, 0, 1);
export const MISSING = '175928847299117063';

export async function expectCode(promise: Promise<unknown>, code: StoreErrorCode): Promise<StoreError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StoreError);
  expect((err as StoreError).code).toBe(code);
  return err as StoreError;
}

export function storeContract(engine: EngineUnderTest): void {
  let now: number;
  let target: DatabaseTarget;
  let store: SqlStore;
  let alice: UserRecord;
  let bob: UserRecord;
  const open: SqlStore[] = [];

  async function openStore(options: SqlStoreOptions = {}): Promise<SqlStore> {
    const s = await openSqlStore(target, { now: () => now, ...SQLITE_OPTIONS, ...options });
    open.push(s);
    return s;
  }

  beforeEach(async () => {
    now = T0;
    target = await engine.fresh();
    store = await openStore();
    alice = await store.createUser({ username: 'alice' });
    bob = await store.createUser({ username: 'bob', global_name: 'Bob', bot: true });
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });

  describe('users', () => {
    it('creates Discord-shaped users', async () => {
      expect(alice).toEqual({ id: expect.any(String), username: 'alice', discriminator: '0', global_name: null, avatar: null, bot: false });
      expect(bob).toMatchObject({ global_name: 'Bob', bot: true });
      expect(await store.getUser(alice.id)).toEqual(alice);
      expect(await store.getUser(bob.id)).toEqual(bob);
      expect(await store.getUser(MISSING)).toBeUndefined();
    });

    it('finds users by username, case-insensitively', async () => {
      expect(await store.findUserByUsername('ALICE')).toEqual(alice);
      expect(await store.findUserByUsername('carol')).toBeUndefined();
    });

    it('refuses a taken username, whatever its case (USERNAME_TAKEN)', async () => {
      await expectCode(store.createUser({ username: 'Alice' }), 'USERNAME_TAKEN');
      // The refusal left the store usable (on PostgreSQL a failed statement aborts its transaction).
      expect((await store.createUser({ username: 'carol' })).username).toBe('carol');
    });
  });

  describe('guilds', () => {
    it('creates a guild with a general channel and the owner as member', async () => {
      const guild = await store.createGuild({ name: 'Guild', owner_id: alice.id });
      expect(guild).toEqual({ id: expect.any(String), name: 'Guild', owner_id: alice.id, icon: null, created_at: new Date(T0).toISOString() });
      expect(await store.listChannels(guild.id)).toEqual([
        { id: expect.any(String), type: 0, guild_id: guild.id, name: 'general', position: 0, topic: null, last_message_id: null },
      ]);
      expect(await store.isMember(guild.id, alice.id)).toBe(true);
      expect(await store.getGuild(guild.id)).toEqual(guild);
    });

    it('needs an existing owner, and leaves nothing behind without one', async () => {
      await expectCode(store.createGuild({ name: 'G', owner_id: MISSING }), 'UNKNOWN_USER');
      expect(await store.listGuildsForUser(MISSING)).toEqual([]);
    });

    it('lists a user’s guilds in id order', async () => {
      const g1 = await store.createGuild({ name: 'one', owner_id: alice.id });
      const g2 = await store.createGuild({ name: 'two', owner_id: bob.id });
      const g3 = await store.createGuild({ name: 'three', owner_id: alice.id });
      await store.addMember(g2.id, alice.id);
      expect((await store.listGuildsForUser(alice.id)).map((g) => g.id)).toEqual([g1.id, g2.id, g3.id]);
      expect((await store.listGuildsForUser(bob.id)).map((g) => g.id)).toEqual([g2.id]);
      expect(await store.listGuildsForUser(MISSING)).toEqual([]);
    });

    it('deletes a guild with its channels, members, messages and reactions', async () => {
      const g = await store.createGuild({ name: 'doomed', owner_id: alice.id });
      const [general] = await store.listChannels(g.id);
      const msg = await store.createMessage({ channel_id: general!.id, author_id: alice.id, content: 'bye' });
      await store.addReaction(general!.id, msg.id, alice.id, { id: null, name: '👋' });
      expect(await store.deleteGuild(g.id)).toBe(true);
      expect(await store.getGuild(g.id)).toBeUndefined();
      expect(await store.getChannel(general!.id)).toBeUndefined();
      expect(await store.getMessage(general!.id, msg.id)).toBeUndefined();
      expect(await store.listGuildsForUser(alice.id)).toEqual([]);
      expect(await store.isMember(g.id, alice.id)).toBe(false);
      expect(await store.deleteGuild(g.id)).toBe(false);
    });
  });

  describe('channels', () => {
    it('appends channels by position and lists them in order', async () => {
      const g = await store.createGuild({ name: 'G', owner_id: alice.id });
      const random = await store.createChannel({ guild_id: g.id, name: 'random', topic: 'anything' });
      const top = await store.createChannel({ guild_id: g.id, name: 'top', position: 0 });
      expect(random).toMatchObject({ position: 1, topic: 'anything', type: 0, guild_id: g.id });
      expect((await store.listChannels(g.id)).map((c) => c.name)).toEqual(['general', 'top', 'random']);
      expect(await store.getChannel(top.id)).toEqual(top);
    });

    it('needs an existing guild', async () => {
      await expectCode(store.createChannel({ guild_id: MISSING, name: 'x' }), 'UNKNOWN_GUILD');
      expect(await store.listChannels(MISSING)).toEqual([]);
      expect(await store.getChannel(MISSING)).toBeUndefined();
    });
  });

  describe('members', () => {
    it('adds members idempotently', async () => {
      const g = await store.createGuild({ name: 'G', owner_id: alice.id });
      now += 1000;
      const first = await store.addMember(g.id, bob.id);
      expect(first.added).toBe(true);
      expect(first.member).toEqual({ guild_id: g.id, user: bob, nick: null, roles: [], joined_at: new Date(T0 + 1000).toISOString() });
      now += 1000;
      expect(await store.addMember(g.id, bob.id)).toEqual({ member: first.member, added: false });
      expect(await store.getMember(g.id, bob.id)).toEqual(first.member);
    });

    it('removes members', async () => {
      const g = await store.createGuild({ name: 'G', owner_id: alice.id });
      await store.addMember(g.id, bob.id);
      expect(await store.removeMember(g.id, bob.id)).toBe(true);
      expect(await store.removeMember(g.id, bob.id)).toBe(false);
      expect(await store.removeMember(MISSING, bob.id)).toBe(false);
      expect(await store.isMember(g.id, bob.id)).toBe(false);
      expect(await store.getMember(g.id, bob.id)).toBeUndefined();
      expect(await store.listGuildsForUser(bob.id)).toEqual([]);
    });

    it('refuses unknown guilds and users', async () => {
      const g = await store.createGuild({ name: 'G', owner_id: alice.id });
      await expectCode(store.addMember(MISSING, bob.id), 'UNKNOWN_GUILD');
      await expectCode(store.addMember(g.id, MISSING), 'UNKNOWN_USER');
      expect(await store.getMember(MISSING, alice.id)).toBeUndefined();
      expect(await store.isMember(MISSING, alice.id)).toBe(false);
    });

    it('pages members by user id with limit and after', async () => {
      const g = await store.createGuild({ name: 'G', owner_id: alice.id });
      const users = [alice, bob];
      for (let i = 0; i < 8; i++) {
        const u = await store.createUser({ username: `user${i}` });
        users.push(u);
        await store.addMember(g.id, u.id);
      }
      const ids = users.map((u) => u.id).sort(compareSnowflakes);
      await store.addMember(g.id, bob.id);
      expect((await store.listMembers(g.id)).map((m) => m.user.id)).toEqual(ids);
      const page1 = await store.listMembers(g.id, { limit: 4 });
      expect(page1.map((m) => m.user.id)).toEqual(ids.slice(0, 4));
      const page2 = await store.listMembers(g.id, { limit: 4, after: page1.at(-1)!.user.id });
      expect(page2.map((m) => m.user.id)).toEqual(ids.slice(4, 8));
      const page3 = await store.listMembers(g.id, { limit: 4, after: page2.at(-1)!.user.id });
      expect(page3.map((m) => m.user.id)).toEqual(ids.slice(8));
      const late = await store.createUser({ username: 'late' });
      await store.addMember(g.id, late.id);
      expect((await store.listMembers(g.id, { after: ids.at(-1)! })).map((m) => m.user.id)).toEqual([late.id]);
      expect((await store.listMembers(g.id, { after: '0', limit: 2 })).map((m) => m.user.id)).toEqual(ids.slice(0, 2));
      expect(await store.listMembers(MISSING)).toEqual([]);
    });
  });

  describe('messages', () => {
    let channelId: string;
    let guildId: string;

    beforeEach(async () => {
      const g = await store.createGuild({ name: 'G', owner_id: alice.id });
      guildId = g.id;
      channelId = (await store.listChannels(g.id))[0]!.id;
    });

    async function post(n: number, channel = channelId): Promise<string[]> {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        now += 1;
        ids.push((await store.createMessage({ channel_id: channel, author_id: alice.id, content: `m${i}` })).id);
      }
      return ids;
    }

    const idsOf = (messages: { id: string }[]) => messages.map((m) => m.id);

    it('creates messages with the author and a timestamp from the id', async () => {
      const msg = await store.createMessage({ channel_id: channelId, author_id: bob.id, content: 'hello' });
      expect(msg).toEqual({
        id: expect.any(String),
        channel_id: channelId,
        guild_id: guildId,
        author: bob,
        content: 'hello',
        timestamp: new Date(timestampOf(msg.id)).toISOString(),
        edited_timestamp: null,
        reactions: [],
      });
      expect((await store.getChannel(channelId))!.last_message_id).toBe(msg.id);
      expect(await store.getMessage(channelId, msg.id)).toEqual(msg);
    });

    it('refuses unknown channels and authors', async () => {
      await expectCode(store.createMessage({ channel_id: MISSING, author_id: alice.id, content: 'x' }), 'UNKNOWN_CHANNEL');
      await expectCode(store.createMessage({ channel_id: channelId, author_id: MISSING, content: 'x' }), 'UNKNOWN_USER');
      expect(await store.listMessages(channelId)).toEqual([]);
    });

    it('scopes messages to their channel', async () => {
      const other = await store.createChannel({ guild_id: guildId, name: 'other' });
      const [id] = await post(1);
      const [elsewhere] = await post(1, other.id);
      expect(await store.getMessage(other.id, id!)).toBeUndefined();
      await expectCode(store.deleteMessage(other.id, id!), 'UNKNOWN_MESSAGE');
      expect(idsOf(await store.listMessages(channelId))).toEqual([id]);
      expect(idsOf(await store.listMessages(other.id))).toEqual([elsewhere]);
    });

    it('lists newest first, 50 by default, 1..100', async () => {
      const ids = await post(120);
      const newest = [...ids].reverse();
      expect(idsOf(await store.listMessages(channelId))).toEqual(newest.slice(0, 50));
      expect(idsOf(await store.listMessages(channelId, { limit: 100 }))).toEqual(newest.slice(0, 100));
      expect(await store.listMessages(channelId, { limit: 500 })).toHaveLength(100);
      expect(await store.listMessages(channelId, { limit: 0 })).toHaveLength(1);
      expect(await store.listMessages(MISSING)).toEqual([]);
    });

    it('pages with before', async () => {
      const ids = await post(10);
      expect(idsOf(await store.listMessages(channelId, { before: ids[5]!, limit: 3 }))).toEqual([ids[4], ids[3], ids[2]]);
      expect(idsOf(await store.listMessages(channelId, { before: ids[1]!, limit: 3 }))).toEqual([ids[0]]);
      expect(await store.listMessages(channelId, { before: ids[0]! })).toEqual([]);
      expect(await store.listMessages(channelId, { before: '1' })).toEqual([]);
      // Bounds past int64 (a snowflake may be up to 2^64-1) still mean "everything before".
      expect(idsOf(await store.listMessages(channelId, { before: '18446744073709551615', limit: 2 }))).toEqual([ids[9], ids[8]]);
    });

    it('pages with after: the messages right after, newest first', async () => {
      const ids = await post(10);
      expect(idsOf(await store.listMessages(channelId, { after: ids[2]!, limit: 3 }))).toEqual([ids[5], ids[4], ids[3]]);
      expect(idsOf(await store.listMessages(channelId, { after: ids[8]!, limit: 3 }))).toEqual([ids[9]]);
      expect(await store.listMessages(channelId, { after: ids[9]! })).toEqual([]);
      // after=0: from the very first message.
      expect(idsOf(await store.listMessages(channelId, { after: '0', limit: 3 }))).toEqual([ids[2], ids[1], ids[0]]);
    });

    it('pages around a message, including it', async () => {
      const ids = await post(10);
      expect(idsOf(await store.listMessages(channelId, { around: ids[5]!, limit: 3 }))).toEqual([ids[6], ids[5], ids[4]]);
      expect(idsOf(await store.listMessages(channelId, { around: ids[0]!, limit: 4 }))).toEqual([ids[3], ids[2], ids[1], ids[0]]);
      expect(idsOf(await store.listMessages(channelId, { around: ids[9]!, limit: 4 }))).toEqual([ids[9], ids[8], ids[7]]);
    });

    it('accepts ids that are not messages as page bounds', async () => {
      const ids = await post(3);
      const between = (BigInt(ids[1]!) - 1n).toString();
      expect(idsOf(await store.listMessages(channelId, { before: between }))).toEqual([ids[0]]);
      expect(idsOf(await store.listMessages(channelId, { after: between }))).toEqual([ids[2], ids[1]]);
    });

    it('walks a long history page by page with before, in order, without gaps', async () => {
      const ids = await post(250);
      const seen: string[] = [];
      for (let before: string | undefined; ; ) {
        const page = await store.listMessages(channelId, { limit: 100, ...(before === undefined ? {} : { before }) });
        seen.push(...idsOf(page));
        if (page.length < 100) break;
        before = page.at(-1)!.id;
      }
      expect(seen).toEqual([...ids].reverse());
    });

    it('updates content and edited_timestamp', async () => {
      const [id] = await post(1);
      now = T0 + 60_000;
      const edited = await store.updateMessage(channelId, id!, { content: 'edited' });
      expect(edited).toMatchObject({ id, content: 'edited', edited_timestamp: new Date(T0 + 60_000).toISOString() });
      expect(await store.getMessage(channelId, id!)).toEqual(edited);
      await expectCode(store.updateMessage(channelId, MISSING, { content: 'x' }), 'UNKNOWN_MESSAGE');
      await expectCode(store.updateMessage(MISSING, id!, { content: 'x' }), 'UNKNOWN_CHANNEL');
    });

    it('deletes messages, returning what was deleted', async () => {
      const [id] = await post(1);
      const deleted = await store.deleteMessage(channelId, id!);
      expect(deleted.id).toBe(id);
      expect(deleted.content).toBe('m0');
      expect(await store.getMessage(channelId, id!)).toBeUndefined();
      await expectCode(store.deleteMessage(channelId, id!), 'UNKNOWN_MESSAGE');
    });

    describe('reactions', () => {
      const thumbs = { id: null, name: '👍' };
      const custom = { id: '175928847299117000', name: 'blob' };

      it('adds and removes idempotently per user and emoji', async () => {
        const [id] = await post(1);
        expect((await store.addReaction(channelId, id!, alice.id, thumbs)).changed).toBe(true);
        expect((await store.addReaction(channelId, id!, alice.id, thumbs)).changed).toBe(false);
        const both = await store.addReaction(channelId, id!, bob.id, thumbs);
        expect(both.message.reactions).toEqual([{ emoji: thumbs, count: 2, user_ids: [alice.id, bob.id] }]);
        expect((await store.removeReaction(channelId, id!, alice.id, thumbs)).changed).toBe(true);
        const after = await store.removeReaction(channelId, id!, alice.id, thumbs);
        expect(after.changed).toBe(false);
        expect(after.message.reactions).toEqual([{ emoji: thumbs, count: 1, user_ids: [bob.id] }]);
        expect((await store.removeReaction(channelId, id!, bob.id, thumbs)).message.reactions).toEqual([]);
      });

      it('tells custom emoji apart by id and keeps first-use order', async () => {
        const [id] = await post(1);
        await store.addReaction(channelId, id!, alice.id, custom);
        await store.addReaction(channelId, id!, alice.id, thumbs);
        await store.addReaction(channelId, id!, bob.id, { id: custom.id, name: 'renamed' });
        const msg = (await store.getMessage(channelId, id!))!;
        expect(msg.reactions.map((r) => [r.emoji.name, r.count])).toEqual([
          ['blob', 2],
          ['👍', 1],
        ]);
        // Lists carry reactions too.
        expect((await store.listMessages(channelId))[0]!.reactions).toEqual(msg.reactions);
      });

      it('caps distinct emoji per message at 20 (MAX_REACTIONS)', async () => {
        const [id] = await post(1);
        for (let i = 0; i < MAX_REACTIONS_PER_MESSAGE; i++) {
          await store.addReaction(channelId, id!, alice.id, { id: `1759288472991170${String(i).padStart(2, '0')}`, name: `e${i}` });
        }
        await expectCode(store.addReaction(channelId, id!, alice.id, thumbs), 'MAX_REACTIONS');
        expect((await store.addReaction(channelId, id!, bob.id, { id: '175928847299117000', name: 'e0' })).changed).toBe(true);
      });

      it('refuses unknown messages and users', async () => {
        const [id] = await post(1);
        await expectCode(store.addReaction(channelId, MISSING, alice.id, thumbs), 'UNKNOWN_MESSAGE');
        await expectCode(store.addReaction(channelId, id!, MISSING, thumbs), 'UNKNOWN_USER');
        await expectCode(store.removeReaction(channelId, MISSING, alice.id, thumbs), 'UNKNOWN_MESSAGE');
      });
    });

    describe('applyWrites', () => {
      const message = (id: string, content: string): GuildWrite => ({ kind: 'create_message', id, channel_id: channelId, guild_id: guildId, author_id: alice.id, content });

      it('applies writes in order and answers each', async () => {
        const a = store.ids.next();
        const b = store.ids.next();
        const c = store.ids.next();
        const outcomes = await store.applyWrites([
          message(a, 'one'),
          message(b, 'two'),
          { kind: 'update_message', channel_id: channelId, message_id: a, content: 'one, edited', edited_timestamp: new Date(T0 + 5).toISOString() },
          { kind: 'add_reaction', channel_id: channelId, message_id: b, user_id: bob.id, emoji: { id: null, name: '🔥' } },
          { kind: 'add_member', guild_id: guildId, user_id: bob.id, joined_at: new Date(T0 + 7).toISOString() },
          { kind: 'create_channel', id: c, guild_id: guildId, name: 'new', topic: 'fresh', position: 3 },
          { kind: 'delete_message', channel_id: channelId, message_id: b },
          { kind: 'remove_member', guild_id: guildId, user_id: bob.id },
        ]);
        expect(outcomes.every((o) => o.ok)).toBe(true);
        const values = outcomes.map((o) => (o.ok ? o.value : undefined)) as any[]; // eslint-disable-line @typescript-eslint/no-explicit-any
        expect(values[0]).toMatchObject({ id: a, content: 'one', author: alice, guild_id: guildId });
        expect(values[2]).toMatchObject({ id: a, content: 'one, edited', edited_timestamp: new Date(T0 + 5).toISOString() });
        expect(values[3]).toMatchObject({ changed: true, message: { id: b, reactions: [{ count: 1, user_ids: [bob.id] }] } });
        expect(values[4]).toMatchObject({ added: true, member: { user: bob, joined_at: new Date(T0 + 7).toISOString() } });
        expect(values[5]).toEqual({ id: c, type: 0, guild_id: guildId, name: 'new', topic: 'fresh', position: 3, last_message_id: null });
        expect(values[6]).toMatchObject({ id: b, content: 'two' });
        expect(values[7]).toBe(true);
        expect(idsOf(await store.listMessages(channelId))).toEqual([a]);
        expect(await store.getChannel(c)).toEqual(values[5]);
        expect(await store.isMember(guildId, bob.id)).toBe(false);
      });

      it('fails a write on a domain rule without undoing the others', async () => {
        const [target] = await post(1);
        for (let i = 0; i < MAX_REACTIONS_PER_MESSAGE; i++) {
          await store.addReaction(channelId, target!, alice.id, { id: `1759288472991170${String(i).padStart(2, '0')}`, name: `e${i}` });
        }
        const a = store.ids.next();
        const b = store.ids.next();
        const outcomes = await store.applyWrites([
          message(a, 'before'),
          { kind: 'update_message', channel_id: channelId, message_id: MISSING, content: 'x', edited_timestamp: new Date(T0).toISOString() },
          { kind: 'add_reaction', channel_id: channelId, message_id: target!, user_id: bob.id, emoji: { id: null, name: '🆕' } },
          { kind: 'create_message', id: store.ids.next(), channel_id: MISSING, guild_id: guildId, author_id: alice.id, content: 'lost' },
          { kind: 'add_member', guild_id: MISSING, user_id: bob.id, joined_at: new Date(T0).toISOString() },
          { kind: 'delete_message', channel_id: channelId, message_id: MISSING },
          message(b, 'after'),
        ]);
        expect(outcomes.map((o) => (o.ok ? 'ok' : o.error.code))).toEqual(['ok', 'UNKNOWN_MESSAGE', 'MAX_REACTIONS', 'UNKNOWN_CHANNEL', 'UNKNOWN_GUILD', 'UNKNOWN_MESSAGE', 'ok']);
        expect(idsOf(await store.listMessages(channelId))).toEqual([b, a, target]);
        expect((await store.getMessage(channelId, target!))!.reactions).toHaveLength(MAX_REACTIONS_PER_MESSAGE);
      });

      it('takes a run of new messages in one go, each row failing alone and every one answered in order', async () => {
        const ids = Array.from({ length: 6 }, () => store.ids.next());
        const outcomes = await store.applyWrites([
          message(ids[0]!, 'm0'),
          message(ids[1]!, 'm1'),
          { kind: 'create_message', id: ids[2]!, channel_id: MISSING, guild_id: guildId, author_id: alice.id, content: 'no channel' },
          { kind: 'create_message', id: ids[3]!, channel_id: channelId, guild_id: guildId, author_id: MISSING, content: 'no author' },
          { kind: 'create_message', id: ids[4]!, channel_id: channelId, guild_id: MISSING, author_id: alice.id, content: 'channel of another guild' },
          { ...message(ids[5]!, 'from bob'), author_id: bob.id } as GuildWrite,
        ]);
        expect(outcomes.map((o) => (o.ok ? 'ok' : o.error.code))).toEqual(['ok', 'ok', 'UNKNOWN_CHANNEL', 'UNKNOWN_USER', 'UNKNOWN_CHANNEL', 'ok']);
        expect(outcomes[5]).toMatchObject({ ok: true, value: { id: ids[5], content: 'from bob', author: bob, channel_id: channelId, guild_id: guildId, reactions: [] } });
        const stored = await store.listMessages(channelId);
        expect(idsOf(stored)).toEqual([ids[5], ids[1], ids[0]]);
        expect(stored.map((m) => m.content)).toEqual(['from bob', 'm1', 'm0']);
      });

      it('commits nothing of a call when a statement fails (a duplicate id)', async () => {
        const [existing] = await post(1);
        const a = store.ids.next();
        const call = store.applyWrites([
          message(a, 'would be lost'),
          { kind: 'add_member', guild_id: guildId, user_id: bob.id, joined_at: new Date(T0).toISOString() },
          message(existing!, 'same id again'),
        ]);
        await expect(call).rejects.toThrow();
        expect(idsOf(await store.listMessages(channelId))).toEqual([existing]);
        expect(await store.isMember(guildId, bob.id)).toBe(false);
        // The store goes on working after the failed transaction.
        expect((await store.applyWrites([message(a, 'again')]))[0]!.ok).toBe(true);
      });

      it('commits nothing of a call of new messages only when one of them fails (a duplicate id)', async () => {
        // PostgreSQL takes such a call as one statement without a transaction around it: the statement is the unit.
        const [existing] = await post(1);
        const a = store.ids.next();
        await expect(store.applyWrites([message(a, 'would be lost'), message(existing!, 'same id again')])).rejects.toThrow();
        expect(idsOf(await store.listMessages(channelId))).toEqual([existing]);
        const outcomes = await store.applyWrites([message(a, 'again'), message(store.ids.next(), 'and another')]);
        expect(outcomes.map((o) => o.ok)).toEqual([true, true]);
        expect((await store.listMessages(channelId)).map((m) => m.content)).toEqual(['and another', 'again', expect.any(String)]);
      });

      it('answers an empty call with no outcomes', async () => {
        expect(await store.applyWrites([])).toEqual([]);
      });
    });

    describe('enforce_nonce posts (recentNonces)', () => {
      const posted = (id: string, nonce: string | null, author = alice.id, channel = channelId): GuildWrite => ({
        kind: 'create_message',
        id,
        channel_id: channel,
        guild_id: guildId,
        author_id: author,
        content: `c-${id}`,
        nonce,
      });

      it('keeps the nonce with its row on every write path and finds the window\'s, newest first, bounded', async () => {
        const other = await store.createGuild({ name: 'Other', owner_id: alice.id });
        const otherChannel = (await store.listChannels(other.id))[0]!.id;
        const old = store.ids.next();
        expect((await store.applyWrites([posted(old, 'string:old')]))[0]!.ok).toBe(true);
        now += 10 * 60_000;
        const since = now - 5 * 60_000;
        const ids = Array.from({ length: 6 }, () => store.ids.next());
        // New messages only (the hot path: SQLite's prepared insert or writer thread, PostgreSQL's unnest).
        await store.applyWrites([posted(ids[0]!, 'string:a'), posted(ids[1]!, null)]);
        // One new message among other writes, then a run of them in a transaction.
        await store.applyWrites([posted(ids[2]!, 'number:42', bob.id), { kind: 'add_member', guild_id: guildId, user_id: bob.id, joined_at: new Date(now).toISOString() }]);
        await store.applyWrites([
          posted(ids[3]!, 'string:b'),
          posted(ids[4]!, null),
          { kind: 'create_channel', id: store.ids.next(), guild_id: guildId, name: 'x', topic: null, position: 9 },
        ]);
        const elsewhere = await store.applyWrites([{ ...posted(ids[5]!, 'string:a'), guild_id: other.id, channel_id: otherChannel } as GuildWrite]);
        expect(elsewhere[0]!.ok).toBe(true);

        const recent = await store.recentNonces(guildId, since, 100);
        expect(recent).toEqual([
          { message_id: ids[3], channel_id: channelId, author_id: alice.id, nonce: 'string:b' },
          { message_id: ids[2], channel_id: channelId, author_id: bob.id, nonce: 'number:42' },
          { message_id: ids[0], channel_id: channelId, author_id: alice.id, nonce: 'string:a' },
        ]);
        expect((await store.recentNonces(guildId, since, 2)).map((n) => n.message_id)).toEqual([ids[3], ids[2]]);
        expect((await store.recentNonces(guildId, 0, 100)).map((n) => n.message_id)).toEqual([ids[3], ids[2], ids[0], old]);
        expect(await store.recentNonces(other.id, since, 100)).toEqual([{ message_id: ids[5], channel_id: otherChannel, author_id: alice.id, nonce: 'string:a' }]);
        // The messages themselves are as any other.
        expect((await store.getMessage(channelId, ids[0]!))!.content).toBe(`c-${ids[0]}`);
        // A deleted post is gone from it too.
        await store.deleteMessage(channelId, ids[3]!);
        expect((await store.recentNonces(guildId, since, 100)).map((n) => n.message_id)).toEqual([ids[2], ids[0]]);
      });
    });
  });

  describe('settings', () => {
    it('keeps the first value stored for a key', async () => {
      expect(await store.setting('token_secret', 'first')).toBe('first');
      expect(await store.setting('token_secret', 'second')).toBe('first');
      expect(await store.setting('other', 'x')).toBe('x');
    });
  });

  describe('ids', () => {
    it('hands out increasing snowflakes, after every id already stored', async () => {
      const g = await store.createGuild({ name: 'G', owner_id: alice.id });
      const ids = [store.ids.next(), store.ids.next()];
      expect(compareSnowflakes(ids[0]!, g.id)).toBeGreaterThan(0);
      expect(compareSnowflakes(ids[1]!, ids[0]!)).toBeGreaterThan(0);
    });
  });

  describe.runIf(engine.durable)('after a restart', () => {
    it('keeps everything, the settings too, and new ids sort after old ones even when the clock went back', async () => {
      const g = await store.createGuild({ name: 'G', owner_id: alice.id });
      const channelId = (await store.listChannels(g.id))[0]!.id;
      now += 10_000;
      const msg = await store.createMessage({ channel_id: channelId, author_id: bob.id, content: 'kept' });
      await store.addReaction(channelId, msg.id, alice.id, { id: null, name: '💾' });
      await store.setting('token_secret', 'secret-1');
      await store.close();

      now -= 60_000; // the clock stepped back while the server was down
      const again = await openStore();
      expect(await again.getUser(alice.id)).toEqual(alice);
      expect(await again.findUserByUsername('BOB')).toEqual(bob);
      expect(await again.getGuild(g.id)).toEqual(g);
      expect(await again.getMessage(channelId, msg.id)).toEqual({ ...msg, reactions: [{ emoji: { id: null, name: '💾' }, count: 1, user_ids: [alice.id] }] });
      expect(await again.setting('token_secret', 'secret-2')).toBe('secret-1');
      const next = again.ids.next();
      expect(compareSnowflakes(next, msg.id)).toBeGreaterThan(0);
      const later = await again.createMessage({ channel_id: channelId, author_id: alice.id, content: 'new' });
      expect((await again.listMessages(channelId)).map((m) => m.id)).toEqual([later.id, msg.id]);
    });

    it('keeps enforce_nonce posts: a store opened again finds them', async () => {
      const g = await store.createGuild({ name: 'G', owner_id: alice.id });
      const channelId = (await store.listChannels(g.id))[0]!.id;
      const id = store.ids.next();
      await store.applyWrites([{ kind: 'create_message', id, channel_id: channelId, guild_id: g.id, author_id: bob.id, content: 'once', nonce: 'string:n-1' }]);
      await store.close();
      const again = await openStore();
      expect(await again.recentNonces(g.id, now - 60_000, 10)).toEqual([{ message_id: id, channel_id: channelId, author_id: bob.id, nonce: 'string:n-1' }]);
    });

    it('migrates once: opening again is a no-op', async () => {
      await store.close();
      const again = await openStore();
      expect(await again.getUser(alice.id)).toEqual(alice);
    });
  });
}
