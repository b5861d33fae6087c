// Zod schemas for what REST clients send: bodies, path params and query
// strings. Limits are Discord's, so a body Discord accepts we accept, and a
// body Discord rejects we reject with a 50035 of the same shape
// (see errors.ts invalidFormBody). Unknown body fields are stripped, not
// rejected: client libraries send fields we do not implement (tts, flags,
// allowed_mentions...) and Discord ignores what does not apply.
import { z } from 'zod';

const MAX_SNOWFLAKE = (1n << 64n) - 1n;

/** A snowflake in a path or body: 17-20 digits (every id since 2015), within 64 bits. */
export const snowflakeSchema = z
  .string()
  // One check, not regex + refine: zod runs every check even after one fails, and BigInt('x') throws.
  // 19 digits or fewer is always within 64 bits (2^64 has 20): only a 20-digit id is parsed to compare.
  .refine((s) => /^\d{17,20}$/.test(s) && (s.length < 20 || BigInt(s) <= MAX_SNOWFLAKE), 'Value is not snowflake.');

/**
 * A snowflake used as a paging bound (`before`, `after`, `around`): any id
 * within 64 bits, short ones included, since clients page from `after=0` (or
 * `before=1`) and Discord accepts that. Leading zeros are dropped so ids
 * compare canonically (by length, then digits).
 */
export const pagingIdSchema = z
  .string()
  .refine((s) => /^\d{1,20}$/.test(s) && BigInt(s) <= MAX_SNOWFLAKE, 'Value is not snowflake.')
  .transform((s) => s.replace(/^0+(?=\d)/, ''));

// Query strings arrive as text; parse digits strictly (no "1e3", no "  5").
function intQuery(min: number, max: number, fallback: number) {
  return z
    .string()
    .regex(/^\d+$/, 'Value is not int.')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .optional()
    .transform((v) => v ?? fallback);
}

// --- path params --------------------------------------------------------------

export const guildParamsSchema = z.object({ guild_id: snowflakeSchema });
export const channelParamsSchema = z.object({ channel_id: snowflakeSchema });
export const messageParamsSchema = z.object({ channel_id: snowflakeSchema, message_id: snowflakeSchema });
/** `/guilds/{guild.id}/members/{user.id}`; `@me` where Discord allows it (leave guild, own member). */
export const memberParamsSchema = z.object({ guild_id: snowflakeSchema, user_id: z.union([snowflakeSchema, z.literal('@me')]) });

/** A reaction emoji: a unicode emoji, or a custom one as `name:id`. */
export interface EmojiRef {
  id: string | null;
  name: string;
}

// Custom emoji names are 2-32 word characters (https://discord.com/developers/docs/resources/emoji).
const CUSTOM_EMOJI = /^(?:a:)?(\w{2,32}):(\d{17,20})$/;
// A unicode emoji has at least one pictographic code point (or a flag / keycap part)
// and nothing that would never be in one: whitespace, controls, ':'.
const PICTOGRAPHIC = /[\p{Extended_Pictographic}\p{Regional_Indicator}\u20E3]/u;
const NOT_EMOJI = /[\s\p{Cc}:]/u;

/**
 * Parses the `{emoji}` route segment. Discord wants it URL-encoded; the router
 * decodes it once, and a still-encoded value (double-encoded by a client) is decoded here.
 */
export function parseEmoji(raw: string): EmojiRef | undefined {
  let text = raw;
  if (text.includes('%')) {
    try {
      text = decodeURIComponent(text);
    } catch {
      return undefined;
    }
  }
  if (text.length < 1 || text.length > 100) return undefined;
  const custom = CUSTOM_EMOJI.exec(text);
  if (custom) return { id: custom[2]!, name: custom[1]! };
  if (NOT_EMOJI.test(text) || !PICTOGRAPHIC.test(text)) return undefined;
  return { id: null, name: text };
}

export const emojiSchema = z.string().transform((raw, ctx) => {
  const emoji = parseEmoji(raw);
  if (emoji === undefined) {
    ctx.addIssue({ code: 'custom', message: 'Unknown Emoji' });
    return z.NEVER;
  }
  return emoji;
});

export const reactionParamsSchema = messageParamsSchema.extend({ emoji: emojiSchema });

// --- bodies -------------------------------------------------------------------

/** POST /guilds. Discord: name 2-100 characters. */
export const createGuildBodySchema = z.object({
  name: z.string().trim().min(2).max(100),
});

/**
 * Discord lowercases text channel names and turns spaces into dashes rather
 * than refusing them; after that, anything printable goes (emoji included),
 * so the check is permissive: no whitespace, no control characters.
 */
export function normalizeChannelName(name: string): string {
  return name.trim().toLowerCase().replace(/\s+/g, '-');
}

const channelName = z
  .string()
  .transform(normalizeChannelName)
  .pipe(z.string().min(1).max(100).regex(/^[^\s\p{Cc}]+$/u, 'Invalid channel name.'));

/** POST /guilds/{guild.id}/channels. Only GUILD_TEXT (type 0) channels exist here. */
export const createChannelBodySchema = z.object({
  name: channelName,
  type: z.literal(0).optional(),
  topic: z.string().max(1024).nullable().optional(),
  position: z.number().int().min(0).optional(),
});

const content = z
  .string()
  .min(1)
  .max(2000)
  .refine((s) => s.trim().length > 0, { message: 'Cannot send an empty message', abort: true });

/**
 * POST /channels/{channel.id}/messages. Discord requires one of content,
 * embeds, stickers, files or a poll; only content is supported here, so
 * content is required and a non-empty `embeds` is refused rather than
 * silently dropped. `nonce` is echoed back in the response and in
 * MESSAGE_CREATE as Discord does; `enforce_nonce` makes it an idempotency key
 * (guild/recent-nonces.ts).
 */
export const createMessageBodySchema = z.object({
  content,
  // Discord: an integer or a string of at most 25 characters. Integers are kept within
  // what JSON numbers carry exactly, so the echo is the value sent.
  nonce: z.union([z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER), z.string().max(25)]).optional(),
  /** With a nonce: a repeat from the same user in the same channel within minutes returns the first message. */
  enforce_nonce: z.boolean().optional(),
  embeds: z.array(z.unknown()).max(0, 'Embeds are not supported.').optional(),
});

/** PATCH /channels/{channel.id}/messages/{message.id}. Only content can change. */
export const editMessageBodySchema = z.object({ content });

/** POST /dev/users: make a local account. Discord's username rules: 2-32 of [a-z0-9_.], no "..". */
export const devUserBodySchema = z.object({
  username: z
    .string()
    .min(2)
    .max(32)
    .regex(/^[a-z0-9_.]+$/, 'Username can only contain lowercase letters, numbers, "_" and "."')
    .refine((s) => !s.includes('..'), 'Username cannot contain consecutive periods'),
  global_name: z.string().trim().min(1).max(32).optional(),
  bot: z.boolean().optional(),
});

// --- query strings ------------------------------------------------------------

/**
 * GET /channels/{channel.id}/messages. `before`, `after` and `around` are
 * mutually exclusive (https://discord.com/developers/docs/resources/message#get-channel-messages).
 */
export const listMessagesQuerySchema = z
  .object({
    limit: intQuery(1, 100, 50),
    before: pagingIdSchema.optional(),
    after: pagingIdSchema.optional(),
    around: pagingIdSchema.optional(),
  })
  .refine((q) => [q.before, q.after, q.around].filter((v) => v !== undefined).length <= 1, {
    message: 'before, after and around are mutually exclusive',
    path: ['around'],
  });

/**
 * GET /guilds/{guild.id}/members. Discord's defaults: limit 1 (max 1000),
 * after "0" (https://discord.com/developers/docs/resources/guild#list-guild-members).
 */
export const listMembersQuerySchema = z.object({
  limit: intQuery(1, 1000, 1),
  after: z
    .string()
    .regex(/^\d{1,20}$/, 'Value is not snowflake.')
    .optional()
    // "0" (Discord's default) means from the start; leading zeros are dropped so ids compare canonically.
    .transform((v) => (v === undefined ? undefined : v.replace(/^0+/, '') || undefined)),
});

/**
 * GET /users/@me/guilds: limit 1-200 (default 200), paged by guild id
 * (https://discord.com/developers/docs/resources/user#get-current-user-guilds).
 */
export const listUserGuildsQuerySchema = z
  .object({
    limit: intQuery(1, 200, 200),
    before: pagingIdSchema.optional(),
    after: pagingIdSchema.optional(),
  })
  .refine((q) => q.before === undefined || q.after === undefined, {
    message: 'before and after are mutually exclusive',
    path: ['after'],
  });

/** `/users/{user.id}`. */
export const userParamsSchema = z.object({ user_id: snowflakeSchema });

export type GuildParams = z.infer<typeof guildParamsSchema>;
export type ChannelParams = z.infer<typeof channelParamsSchema>;
export type MessageParams = z.infer<typeof messageParamsSchema>;
export type MemberParams = z.infer<typeof memberParamsSchema>;
export type ReactionParams = z.infer<typeof reactionParamsSchema>;
export type CreateGuildBody = z.infer<typeof createGuildBodySchema>;
export type CreateChannelBody = z.infer<typeof createChannelBodySchema>;
export type CreateMessageBody = z.infer<typeof createMessageBodySchema>;
export type EditMessageBody = z.infer<typeof editMessageBodySchema>;
export type DevUserBody = z.infer<typeof devUserBodySchema>;
export type ListMessagesQuery = z.infer<typeof listMessagesQuerySchema>;
export type ListMembersQuery = z.infer<typeof listMembersQuerySchema>;
export type ListUserGuildsQuery = z.infer<typeof listUserGuildsQuerySchema>;
