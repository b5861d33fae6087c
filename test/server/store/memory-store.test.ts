import { beforeEach, describe, expect, it } from 'vitest';
import { HttpError, RestErrors, isHttpError, type RestErrorEntry } from '../../../server/errors.js';
import { SnowflakeGenerator, compareSnowflakes, timestampOf } from '../../../server/ids/snowflake.js';
import { toAPIChannel, toAPIGuild, toAPIMember, toAPIMessage, toAPIUser } from '../../../server/store/api-shapes.js';
import { MAX_REACTIONS_PER_MESSAGE, MemoryStore } from '../../../server/store/memory-store.js';
import type { UserRecord } from '../../../server/store/store.js';

const T0 = Date.UTC(2025, 0, 1);
const MISSING = '175928847299117063';

async function expectCode(promise: Promise<unknown>, entry: RestErrorEntry) {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HttpError);
  expect(isHttpError(err, entry)).toBe(true);
}

let now: number;
let store: MemoryStore;
let alice: UserRecord;
let bob: UserRecord;

beforeEach(async () => {
  now = T0;
  const clock = () => now;
  store = new MemoryStore({ now: clock, ids: new SnowflakeGenerator({ clock }), maxMessagesPerChannel: 1000 });
  alice = await store.createUser({ username: 'alice' });
  bob = await store.createUser({ username: 'bob', global_name: 'Bob', bot: true });
});

describe('users', () => {
  it('creates Discord-shaped users', async () => {
    expect(alice).toEqual({ id: expect.any(String), username: 'alice', discriminator: '0', global_name: null, avatar: null, bot: false });
    expect(bob).toMatchObject({ global_name: 'Bob', bot: true });
    expect(await store.getUser(alice.id)).toEqual(alice);
    expect(await store.getUser(MISSING)).toBeUndefined();
  });

  it('finds users by username, case-insensitively', async () => {
    expect(await store.findUserByUsername('ALICE')).toEqual(alice);
    expect(await store.findUserByUsername('carol')).toBeUndefined();
  });

  it('refuses a taken username with 50035', async () => {
    await expectCode(store.createUser({ username: 'Alice' }), RestErrors.INVALID_FORM_BODY);
  });

  it('returns copies', async () => {
    const u = (await store.getUser(alice.id))!;
    u.username = 'mallory';
    expect((await store.getUser(alice.id))!.username).toBe('alice');
  });
});

describe('guilds', () => {
  it('creates a guild with a general channel and the owner as member', async () => {
    const guild = await store.createGuild({ name: 'Guild', owner_id: alice.id });
    expect(guild).toEqual({ id: expect.any(String), name: 'Guild', owner_id: alice.id, icon: null, created_at: new Date(T0).toISOString() });
    const channels = await store.listChannels(guild.id);
    expect(channels).toEqual([
      { id: expect.any(String), type: 0, guild_id: guild.id, name: 'general', position: 0, topic: null, last_message_id: null },
    ]);
    expect(await store.isMember(guild.id, alice.id)).toBe(true);
    expect(await store.getGuild(guild.id)).toEqual(guild);
  });

  it('needs an existing owner', async () => {
    await expectCode(store.createGuild({ name: 'G', owner_id: MISSING }), RestErrors.UNKNOWN_USER);
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

  it('deletes a guild with its channels, members and messages', async () => {
    const g = await store.createGuild({ name: 'doomed', owner_id: alice.id });
    const [general] = await store.listChannels(g.id);
    const msg = await store.createMessage({ channel_id: general!.id, author_id: alice.id, content: 'bye' });
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
    await expectCode(store.createChannel({ guild_id: MISSING, name: 'x' }), RestErrors.UNKNOWN_GUILD);
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
    const again = await store.addMember(g.id, bob.id);
    expect(again).toEqual({ member: first.member, added: false });
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
    await expectCode(store.addMember(MISSING, bob.id), RestErrors.UNKNOWN_GUILD);
    await expectCode(store.addMember(g.id, MISSING), RestErrors.UNKNOWN_USER);
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
    // A join after a listing is seen by the next listing.
    const late = await store.createUser({ username: 'late' });
    await store.addMember(g.id, late.id);
    expect((await store.listMembers(g.id, { after: ids.at(-1)! })).map((m) => m.user.id)).toEqual([late.id]);
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

  async function post(n: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      now += 1;
      ids.push((await store.createMessage({ channel_id: channelId, author_id: alice.id, content: `m${i}` })).id);
    }
    return ids;
  }

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
    await expectCode(store.createMessage({ channel_id: MISSING, author_id: alice.id, content: 'x' }), RestErrors.UNKNOWN_CHANNEL);
    await expectCode(store.createMessage({ channel_id: channelId, author_id: MISSING, content: 'x' }), RestErrors.UNKNOWN_USER);
  });

  it('scopes messages to their channel', async () => {
    const other = await store.createChannel({ guild_id: guildId, name: 'other' });
    const [id] = await post(1);
    expect(await store.getMessage(other.id, id!)).toBeUndefined();
    await expectCode(store.deleteMessage(other.id, id!), RestErrors.UNKNOWN_MESSAGE);
  });

  it('lists newest first, 50 by default, 1..100', async () => {
    const ids = await post(120);
    const newest = [...ids].reverse();
    expect((await store.listMessages(channelId)).map((m) => m.id)).toEqual(newest.slice(0, 50));
    expect((await store.listMessages(channelId, { limit: 100 })).map((m) => m.id)).toEqual(newest.slice(0, 100));
    expect(await store.listMessages(channelId, { limit: 500 })).toHaveLength(100);
    expect(await store.listMessages(channelId, { limit: 0 })).toHaveLength(1);
    expect(await store.listMessages(MISSING)).toEqual([]);
  });

  it('pages with before', async () => {
    const ids = await post(10);
    expect((await store.listMessages(channelId, { before: ids[5]!, limit: 3 })).map((m) => m.id)).toEqual([ids[4], ids[3], ids[2]]);
    expect((await store.listMessages(channelId, { before: ids[1]!, limit: 3 })).map((m) => m.id)).toEqual([ids[0]]);
    expect(await store.listMessages(channelId, { before: ids[0]! })).toEqual([]);
  });

  it('pages with after: the messages right after, newest first', async () => {
    const ids = await post(10);
    expect((await store.listMessages(channelId, { after: ids[2]!, limit: 3 })).map((m) => m.id)).toEqual([ids[5], ids[4], ids[3]]);
    expect((await store.listMessages(channelId, { after: ids[8]!, limit: 3 })).map((m) => m.id)).toEqual([ids[9]]);
    expect(await store.listMessages(channelId, { after: ids[9]! })).toEqual([]);
  });

  it('pages around a message, including it', async () => {
    const ids = await post(10);
    expect((await store.listMessages(channelId, { around: ids[5]!, limit: 3 })).map((m) => m.id)).toEqual([ids[6], ids[5], ids[4]]);
    expect((await store.listMessages(channelId, { around: ids[0]!, limit: 4 })).map((m) => m.id)).toEqual([ids[3], ids[2], ids[1], ids[0]]);
  });

  it('accepts ids that are not messages as page bounds', async () => {
    const ids = await post(3);
    const between = (BigInt(ids[1]!) - 1n).toString();
    expect((await store.listMessages(channelId, { before: between })).map((m) => m.id)).toEqual([ids[0]]);
    expect((await store.listMessages(channelId, { after: between })).map((m) => m.id)).toEqual([ids[2], ids[1]]);
  });

  it('keeps at most N messages per channel, dropping the oldest', async () => {
    const clock = () => now;
    const small = new MemoryStore({ now: clock, maxMessagesPerChannel: 5 });
    const u = await small.createUser({ username: 'u1' });
    const g = await small.createGuild({ name: 'G', owner_id: u.id });
    const ch = (await small.listChannels(g.id))[0]!.id;
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push((await small.createMessage({ channel_id: ch, author_id: u.id, content: String(i) })).id);
    expect((await small.listMessages(ch, { limit: 100 })).map((m) => m.id)).toEqual(ids.slice(3).reverse());
    expect(await small.getMessage(ch, ids[0]!)).toBeUndefined();
    expect((await small.getChannel(ch))!.last_message_id).toBe(ids[7]);
  });

  it('rejects a non-positive message cap', () => {
    expect(() => new MemoryStore({ maxMessagesPerChannel: 0 })).toThrow(RangeError);
  });

  it('updates content and edited_timestamp', async () => {
    const [id] = await post(1);
    now = T0 + 60_000;
    const edited = await store.updateMessage(channelId, id!, { content: 'edited' });
    expect(edited).toMatchObject({ id, content: 'edited', edited_timestamp: new Date(T0 + 60_000).toISOString() });
    expect(await store.getMessage(channelId, id!)).toEqual(edited);
    await expectCode(store.updateMessage(channelId, MISSING, { content: 'x' }), RestErrors.UNKNOWN_MESSAGE);
    await expectCode(store.updateMessage(MISSING, id!, { content: 'x' }), RestErrors.UNKNOWN_CHANNEL);
  });

  it('deletes messages, returning what was deleted', async () => {
    const [id] = await post(1);
    const deleted = await store.deleteMessage(channelId, id!);
    expect(deleted.id).toBe(id);
    expect(deleted.content).toBe('m0');
    expect(await store.getMessage(channelId, id!)).toBeUndefined();
    await expectCode(store.deleteMessage(channelId, id!), RestErrors.UNKNOWN_MESSAGE);
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

      const gone = await store.removeReaction(channelId, id!, bob.id, thumbs);
      expect(gone.message.reactions).toEqual([]);
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
    });

    it('caps distinct emoji per message at 20 (30010)', async () => {
      const [id] = await post(1);
      for (let i = 0; i < MAX_REACTIONS_PER_MESSAGE; i++) {
        await store.addReaction(channelId, id!, alice.id, { id: `1759288472991170${String(i).padStart(2, '0')}`, name: `e${i}` });
      }
      await expectCode(store.addReaction(channelId, id!, alice.id, thumbs), RestErrors.MAX_REACTIONS);
      // An existing emoji still takes more users.
      expect((await store.addReaction(channelId, id!, bob.id, { id: '175928847299117000', name: 'e0' })).changed).toBe(true);
    });

    it('refuses unknown messages and users', async () => {
      const [id] = await post(1);
      await expectCode(store.addReaction(channelId, MISSING, alice.id, thumbs), RestErrors.UNKNOWN_MESSAGE);
      await expectCode(store.addReaction(channelId, id!, MISSING, thumbs), RestErrors.UNKNOWN_USER);
      await expectCode(store.removeReaction(channelId, MISSING, alice.id, thumbs), RestErrors.UNKNOWN_MESSAGE);
    });

    it('returns copies that do not alias the store', async () => {
      const [id] = await post(1);
      const { message } = await store.addReaction(channelId, id!, alice.id, thumbs);
      message.reactions[0]!.user_ids.push('x');
      message.reactions[0]!.emoji.name = 'x';
      expect((await store.getMessage(channelId, id!))!.reactions).toEqual([{ emoji: thumbs, count: 1, user_ids: [alice.id] }]);
    });
  });
});

describe('api shapes', () => {
  it('converts records into discord-api-types objects', async () => {
    const g = await store.createGuild({ name: 'G', owner_id: alice.id });
    const channel = (await store.listChannels(g.id))[0]!;
    const member = (await store.getMember(g.id, alice.id))!;
    const msg = await store.createMessage({ channel_id: channel.id, author_id: alice.id, content: 'hi' });
    const reacted = (await store.addReaction(channel.id, msg.id, bob.id, { id: null, name: '🔥' })).message;

    expect(toAPIUser(alice)).toEqual({ id: alice.id, username: 'alice', discriminator: '0', global_name: null, avatar: null });
    expect(toAPIUser(bob).bot).toBe(true);

    const apiGuild = toAPIGuild(g);
    expect(apiGuild).toMatchObject({ id: g.id, name: 'G', owner_id: alice.id, icon: null, features: [], emojis: [] });
    expect(apiGuild.roles).toEqual([expect.objectContaining({ id: g.id, name: '@everyone' })]);

    expect(toAPIChannel(channel)).toMatchObject({ id: channel.id, type: 0, guild_id: g.id, name: 'general', permission_overwrites: [], nsfw: false });
    expect(toAPIMember(member)).toMatchObject({ user: toAPIUser(alice), nick: null, roles: [], joined_at: member.joined_at, deaf: false, mute: false });

    const apiMsg = toAPIMessage(msg);
    expect(apiMsg).toMatchObject({ id: msg.id, channel_id: channel.id, content: 'hi', type: 0, embeds: [], mentions: [], pinned: false });
    expect(apiMsg).not.toHaveProperty('reactions');
    expect(toAPIMessage(reacted, bob.id).reactions).toEqual([
      { emoji: { id: null, name: '🔥' }, count: 1, count_details: { burst: 0, normal: 1 }, me: true, me_burst: false, burst_colors: [] },
    ]);
    expect(toAPIMessage(reacted, alice.id).reactions![0]!.me).toBe(false);
    expect(toAPIMessage(reacted).reactions![0]!.me).toBe(false);
  });
});
