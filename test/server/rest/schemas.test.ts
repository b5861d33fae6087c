import { describe, expect, it } from 'vitest';
import {
  channelParamsSchema,
  createChannelBodySchema,
  createGuildBodySchema,
  createMessageBodySchema,
  devUserBodySchema,
  editMessageBodySchema,
  emojiSchema,
  listMembersQuerySchema,
  listMessagesQuerySchema,
  memberParamsSchema,
  messageParamsSchema,
  normalizeChannelName,
  parseEmoji,
  reactionParamsSchema,
  snowflakeSchema,
} from '../../../server/rest/schemas.js';

const ID = '175928847299117063';
const ID2 = '175928847299117064';

describe('snowflake params', () => {
  it('accepts 17-20 digit ids within 64 bits', () => {
    expect(snowflakeSchema.safeParse('41771983423143937').success).toBe(true);
    expect(snowflakeSchema.safeParse(ID).success).toBe(true);
    expect(snowflakeSchema.safeParse('18446744073709551615').success).toBe(true);
  });

  it.each(['1234', '18446744073709551616', '123456789012345678901', 'abc', '', `${ID} `, '-175928847299117063'])('rejects %j', (v) => {
    expect(snowflakeSchema.safeParse(v).success).toBe(false);
  });

  it('validates route param objects', () => {
    expect(channelParamsSchema.parse({ channel_id: ID })).toEqual({ channel_id: ID });
    expect(messageParamsSchema.safeParse({ channel_id: ID, message_id: 'x' }).success).toBe(false);
    expect(memberParamsSchema.parse({ guild_id: ID, user_id: '@me' }).user_id).toBe('@me');
    expect(memberParamsSchema.safeParse({ guild_id: ID, user_id: '@you' }).success).toBe(false);
  });
});

describe('emoji param', () => {
  it('accepts unicode emoji, including sequences, flags and keycaps', () => {
    for (const e of ['👍', '❤️', '👨‍👩‍👧', '🇫🇷', '1️⃣', '👍🏽']) {
      expect(parseEmoji(e)).toEqual({ id: null, name: e });
    }
  });

  it('accepts custom emoji as name:id', () => {
    expect(parseEmoji(`blob_wave:${ID}`)).toEqual({ id: ID, name: 'blob_wave' });
    expect(parseEmoji(`a:party:${ID}`)).toEqual({ id: ID, name: 'party' });
  });

  it('decodes a still URL-encoded value', () => {
    expect(parseEmoji(encodeURIComponent('👍'))).toEqual({ id: null, name: '👍' });
    expect(parseEmoji(encodeURIComponent(`blob:${ID}`))).toEqual({ id: ID, name: 'blob' });
  });

  it.each(['', 'abc', 'thumbsup', ':thumbsup:', `x:${ID}`, `blob:123`, '👍 👍', '%E0%A4%A', '👍'.repeat(51), 'a\n👍'])('rejects %j', (v) => {
    expect(parseEmoji(v)).toBeUndefined();
    expect(emojiSchema.safeParse(v).success).toBe(false);
  });

  it('is part of the reaction route params', () => {
    const parsed = reactionParamsSchema.parse({ channel_id: ID, message_id: ID2, emoji: '🔥' });
    expect(parsed).toEqual({ channel_id: ID, message_id: ID2, emoji: { id: null, name: '🔥' } });
  });
});

describe('create guild body', () => {
  it('accepts 2..100 characters, trimmed', () => {
    expect(createGuildBodySchema.parse({ name: '  My Guild  ' })).toEqual({ name: 'My Guild' });
    expect(createGuildBodySchema.safeParse({ name: 'ab' }).success).toBe(true);
    expect(createGuildBodySchema.safeParse({ name: 'x'.repeat(100) }).success).toBe(true);
  });

  it.each([{}, { name: 'a' }, { name: ' a ' }, { name: 'x'.repeat(101) }, { name: 5 }, null])('rejects %j', (v) => {
    expect(createGuildBodySchema.safeParse(v).success).toBe(false);
  });

  it('strips fields it does not know', () => {
    expect(createGuildBodySchema.parse({ name: 'ok guild', region: 'x' })).toEqual({ name: 'ok guild' });
  });
});

describe('create channel body', () => {
  it('normalises names the way Discord does for text channels', () => {
    expect(normalizeChannelName('  Off Topic  Chat ')).toBe('off-topic-chat');
    expect(createChannelBodySchema.parse({ name: 'General Talk' })).toEqual({ name: 'general-talk' });
    expect(createChannelBodySchema.parse({ name: 'memes-🔥', type: 0, topic: null })).toEqual({ name: 'memes-🔥', type: 0, topic: null });
  });

  it.each([{}, { name: '' }, { name: '   ' }, { name: 'x'.repeat(101) }, { name: 'a\u0000b' }, { name: 'voice', type: 2 }, { name: 'a', topic: 'x'.repeat(1025) }])(
    'rejects %j',
    (v) => {
      expect(createChannelBodySchema.safeParse(v).success).toBe(false);
    },
  );
});

describe('message bodies', () => {
  it('accepts content of 1..2000 characters', () => {
    expect(createMessageBodySchema.parse({ content: 'hi' })).toEqual({ content: 'hi' });
    expect(createMessageBodySchema.safeParse({ content: 'x'.repeat(2000) }).success).toBe(true);
  });

  it('keeps a nonce and an empty embeds list, strips the rest', () => {
    expect(createMessageBodySchema.parse({ content: 'hi', nonce: '123', tts: false, embeds: [] })).toEqual({
      content: 'hi',
      nonce: '123',
      embeds: [],
    });
    expect(createMessageBodySchema.parse({ content: 'hi', nonce: 42 }).nonce).toBe(42);
  });

  it.each([
    {},
    { content: '' },
    { content: '   ' },
    { content: 'x'.repeat(2001) },
    { content: 5 },
    { content: 'hi', nonce: 'x'.repeat(26) },
    { content: 'hi', embeds: [{ title: 't' }] },
    { embeds: [{ title: 't' }] },
  ])('rejects %j', (v) => {
    expect(createMessageBodySchema.safeParse(v).success).toBe(false);
  });

  it('edit requires content', () => {
    expect(editMessageBodySchema.parse({ content: 'new' })).toEqual({ content: 'new' });
    expect(editMessageBodySchema.safeParse({}).success).toBe(false);
    expect(editMessageBodySchema.safeParse({ content: 'x'.repeat(2001) }).success).toBe(false);
  });
});

describe('dev user body', () => {
  it('accepts Discord-style usernames', () => {
    expect(devUserBodySchema.parse({ username: 'alice_01.x' })).toEqual({ username: 'alice_01.x' });
    expect(devUserBodySchema.parse({ username: 'bot', bot: true, global_name: 'Bot' })).toEqual({ username: 'bot', bot: true, global_name: 'Bot' });
  });

  it.each(['a', 'x'.repeat(33), 'Alice', 'al ice', 'al-ice', 'a..b', 'émile'])('rejects %j', (username) => {
    expect(devUserBodySchema.safeParse({ username }).success).toBe(false);
  });
});

describe('list messages query', () => {
  it('defaults limit to 50 and parses numbers from strings', () => {
    expect(listMessagesQuerySchema.parse({})).toEqual({ limit: 50 });
    expect(listMessagesQuerySchema.parse({ limit: '100', before: ID })).toEqual({ limit: 100, before: ID });
    expect(listMessagesQuerySchema.parse({ limit: '1', around: ID }).limit).toBe(1);
  });

  it.each([{ limit: '0' }, { limit: '101' }, { limit: 'ten' }, { limit: '1e2' }, { limit: '' }, { before: 'x' }, { after: '-1' }, { after: '18446744073709551616' }])('rejects %j', (q) => {
    expect(listMessagesQuerySchema.safeParse(q).success).toBe(false);
  });

  it('accepts short paging ids (after=0, before=1), without leading zeros', () => {
    expect(listMessagesQuerySchema.parse({ after: '0' })).toEqual({ limit: 50, after: '0' });
    expect(listMessagesQuerySchema.parse({ before: '1' })).toEqual({ limit: 50, before: '1' });
    expect(listMessagesQuerySchema.parse({ after: '0012' })).toEqual({ limit: 50, after: '12' });
  });

  it('refuses more than one of before, after and around', () => {
    expect(listMessagesQuerySchema.safeParse({ before: ID, after: ID2 }).success).toBe(false);
    expect(listMessagesQuerySchema.safeParse({ after: ID, around: ID2 }).success).toBe(false);
  });
});

describe('list members query', () => {
  it('uses Discord’s defaults: limit 1, from the start', () => {
    expect(listMembersQuerySchema.parse({})).toEqual({ limit: 1, after: undefined });
    expect(listMembersQuerySchema.parse({ after: '0' }).after).toBeUndefined();
    expect(listMembersQuerySchema.parse({ limit: '1000', after: ID })).toEqual({ limit: 1000, after: ID });
    expect(listMembersQuerySchema.parse({ after: '007' }).after).toBe('7');
  });

  it.each([{ limit: '0' }, { limit: '1001' }, { after: 'abc' }, { after: '-1' }])('rejects %j', (q) => {
    expect(listMembersQuerySchema.safeParse(q).success).toBe(false);
  });
});
