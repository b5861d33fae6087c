// Gateway v10 wire protocol: opcodes, intents, and validation of what clients
// send. JSON encoding only.
// https://discord.com/developers/docs/events/gateway
// https://discord.com/developers/docs/topics/opcodes-and-status-codes#gateway-gateway-opcodes
import { isUtf8 } from 'node:buffer';
import { GatewayIntentBits } from 'discord-api-types/v10';
import { z } from 'zod';
import { GatewayCloseCode, GatewayCloseReason } from '../errors.js';
import { isSnowflake } from '../ids/snowflake.js';

export const GATEWAY_VERSION = 10;

/** Discord closes with 4002 when a client sends a payload larger than this. */
export const MAX_CLIENT_PAYLOAD_BYTES = 4096;

/** RFC 6455: a close frame's reason must fit in 123 bytes (125 minus the 2-byte code). */
export const MAX_CLOSE_REASON_BYTES = 123;

export const GatewayOp = {
  DISPATCH: 0,
  HEARTBEAT: 1,
  IDENTIFY: 2,
  PRESENCE_UPDATE: 3,
  VOICE_STATE_UPDATE: 4,
  RESUME: 6,
  RECONNECT: 7,
  REQUEST_GUILD_MEMBERS: 8,
  INVALID_SESSION: 9,
  HELLO: 10,
  HEARTBEAT_ACK: 11,
} as const;

export type GatewayOp = (typeof GatewayOp)[keyof typeof GatewayOp];

// ---------------------------------------------------------------------------
// Intents
// https://discord.com/developers/docs/events/gateway#gateway-intents
// ---------------------------------------------------------------------------

export { GatewayIntentBits };

/** Every intent bit Discord defines; a bit outside this set is an invalid intent (close 4013). */
export const ALL_INTENTS: number = Object.values(GatewayIntentBits)
  .filter((v): v is number => typeof v === 'number')
  .reduce((acc, bit) => acc | bit, 0);

/** Intents an app must be granted before it may ask for them; asking without the grant closes with 4014. */
export const PRIVILEGED_INTENTS: number =
  GatewayIntentBits.GuildMembers | GatewayIntentBits.GuildPresences | GatewayIntentBits.MessageContent;

export function hasIntent(intents: number, bit: number): boolean {
  return (intents & bit) === bit;
}

/**
 * Whether `intents` sets a bit Discord does not define (close 4013). The whole
 * value counts: JavaScript's bitwise operators work on the low 32 bits, so
 * `2 ** 32 + 513 & mask` would pass as 513, hence the BigInt.
 */
export function hasUnknownIntents(intents: number): boolean {
  if (!Number.isSafeInteger(intents) || intents < 0) return true;
  return (BigInt(intents) & ~BigInt(ALL_INTENTS)) !== 0n;
}

/** The privileged bits present in `intents`. */
export function privilegedIntents(intents: number): number {
  return intents & PRIVILEGED_INTENTS;
}

const I = GatewayIntentBits;

/**
 * Which intent a dispatch event needs. Events not listed (READY, RESUMED,
 * GUILD_MEMBERS_CHUNK, USER_UPDATE...) are always delivered.
 * https://discord.com/developers/docs/events/gateway#list-of-intents
 */
export const EVENT_INTENTS: Readonly<Record<string, number>> = {
  GUILD_CREATE: I.Guilds,
  GUILD_UPDATE: I.Guilds,
  GUILD_DELETE: I.Guilds,
  GUILD_ROLE_CREATE: I.Guilds,
  GUILD_ROLE_UPDATE: I.Guilds,
  GUILD_ROLE_DELETE: I.Guilds,
  CHANNEL_CREATE: I.Guilds,
  CHANNEL_UPDATE: I.Guilds,
  CHANNEL_DELETE: I.Guilds,
  CHANNEL_PINS_UPDATE: I.Guilds,
  GUILD_MEMBER_ADD: I.GuildMembers,
  GUILD_MEMBER_UPDATE: I.GuildMembers,
  GUILD_MEMBER_REMOVE: I.GuildMembers,
  PRESENCE_UPDATE: I.GuildPresences,
  MESSAGE_CREATE: I.GuildMessages,
  MESSAGE_UPDATE: I.GuildMessages,
  MESSAGE_DELETE: I.GuildMessages,
  MESSAGE_DELETE_BULK: I.GuildMessages,
  MESSAGE_REACTION_ADD: I.GuildMessageReactions,
  MESSAGE_REACTION_REMOVE: I.GuildMessageReactions,
  MESSAGE_REACTION_REMOVE_ALL: I.GuildMessageReactions,
  MESSAGE_REACTION_REMOVE_EMOJI: I.GuildMessageReactions,
  TYPING_START: I.GuildMessageTyping,
};

/** The intent `event` needs, or undefined when it is always sent. */
export function intentForEvent(event: string): number | undefined {
  return Object.hasOwn(EVENT_INTENTS, event) ? EVENT_INTENTS[event] : undefined;
}

/** Whether a session identified with `intents` receives `event`. */
export function wantsEvent(intents: number, event: string): boolean {
  const needed = intentForEvent(event);
  return needed === undefined || hasIntent(intents, needed);
}

// ---------------------------------------------------------------------------
// Client payloads
// https://discord.com/developers/docs/events/gateway-events#send-events
// ---------------------------------------------------------------------------

const snowflake = z.string().refine(isSnowflake, 'not a snowflake');

export const activitySchema = z.object({
  name: z.string().max(128),
  type: z.number().int().min(0).max(6),
  url: z.string().nullable().optional(),
  state: z.string().max(128).nullable().optional(),
});

export const presenceUpdateDataSchema = z.object({
  since: z.number().int().min(0).nullable(),
  activities: z.array(activitySchema).max(16),
  status: z.enum(['online', 'dnd', 'idle', 'invisible', 'offline']),
  afk: z.boolean(),
});

export const identifyDataSchema = z.object({
  token: z.string().min(1),
  intents: z
    .number()
    .int()
    .min(0)
    .refine((n) => !hasUnknownIntents(n), 'unknown intent bits'),
  properties: z.object({ os: z.string(), browser: z.string(), device: z.string() }),
  compress: z.boolean().optional(),
  large_threshold: z.number().int().min(50).max(250).default(50),
  shard: z
    .tuple([z.number().int().min(0), z.number().int().min(1)])
    .refine(([id, count]) => id < count, 'shard id must be below shard count')
    .optional(),
  presence: presenceUpdateDataSchema.optional(),
});

export const resumeDataSchema = z.object({
  token: z.string().min(1),
  session_id: z.string().min(1),
  seq: z.number().int().min(0),
});

/** The last sequence number the client saw, or null before any dispatch. */
export const heartbeatDataSchema = z.number().int().min(0).nullable();

export const voiceStateUpdateDataSchema = z.object({
  guild_id: snowflake,
  channel_id: snowflake.nullable(),
  self_mute: z.boolean(),
  self_deaf: z.boolean(),
});

/** Discord ignores a nonce longer than this (the chunks then carry none) rather than refusing the request. */
export const MAX_NONCE_BYTES = 32;

// https://discord.com/developers/docs/events/gateway-events#request-guild-members
export const requestGuildMembersDataSchema = z
  .object({
    guild_id: snowflake,
    query: z.string().max(100).optional(),
    limit: z.number().int().min(0).max(100).default(0),
    presences: z.boolean().default(false),
    user_ids: z.union([snowflake, z.array(snowflake).max(100)]).optional(),
    nonce: z
      .unknown()
      .optional()
      .transform((n) => (typeof n === 'string' && Buffer.byteLength(n, 'utf8') <= MAX_NONCE_BYTES ? n : undefined)),
  })
  .refine((d) => (d.query === undefined) !== (d.user_ids === undefined), 'exactly one of query or user_ids');

export type PresenceUpdateData = z.infer<typeof presenceUpdateDataSchema>;
export type IdentifyData = z.infer<typeof identifyDataSchema>;
export type ResumeData = z.infer<typeof resumeDataSchema>;
export type VoiceStateUpdateData = z.infer<typeof voiceStateUpdateDataSchema>;
export type RequestGuildMembersData = z.infer<typeof requestGuildMembersDataSchema>;

/** The outer shape of every gateway payload. Clients send s and t as null or not at all. */
export const frameSchema = z.object({
  op: z.number().int(),
  d: z.unknown(),
  s: z.number().int().nullable().optional(),
  t: z.string().nullable().optional(),
});

/** A validated client payload, discriminated by op. */
export type ClientFrame =
  | { op: typeof GatewayOp.HEARTBEAT; d: number | null }
  | { op: typeof GatewayOp.IDENTIFY; d: IdentifyData }
  | { op: typeof GatewayOp.PRESENCE_UPDATE; d: PresenceUpdateData }
  | { op: typeof GatewayOp.VOICE_STATE_UPDATE; d: VoiceStateUpdateData }
  | { op: typeof GatewayOp.RESUME; d: ResumeData }
  | { op: typeof GatewayOp.REQUEST_GUILD_MEMBERS; d: RequestGuildMembersData };

// Ops a client may send. Server-only ops (DISPATCH, HELLO, ...) from a client are unknown opcodes.
const CLIENT_OP_SCHEMAS: ReadonlyMap<number, z.ZodType> = new Map<number, z.ZodType>([
  [GatewayOp.HEARTBEAT, heartbeatDataSchema],
  [GatewayOp.IDENTIFY, identifyDataSchema],
  [GatewayOp.PRESENCE_UPDATE, presenceUpdateDataSchema],
  [GatewayOp.VOICE_STATE_UPDATE, voiceStateUpdateDataSchema],
  [GatewayOp.RESUME, resumeDataSchema],
  [GatewayOp.REQUEST_GUILD_MEMBERS, requestGuildMembersDataSchema],
]);

export type DecodeResult = { ok: true; frame: ClientFrame } | { ok: false; closeCode: GatewayCloseCode; reason: string };

/** Discord's close reason, plus a detail, cut to what a close frame can carry. */
export function closeReason(code: GatewayCloseCode, detail?: string): string {
  const text = detail ? `${GatewayCloseReason[code]} ${detail}` : GatewayCloseReason[code];
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= MAX_CLOSE_REASON_BYTES) return text;
  // Cut on a character boundary: drop trailing UTF-8 continuation bytes of a split character.
  let end = MAX_CLOSE_REASON_BYTES;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}

function fail(closeCode: GatewayCloseCode, detail?: string): DecodeResult {
  return { ok: false, closeCode, reason: closeReason(closeCode, detail) };
}

/**
 * Decodes one text message from a client into a validated frame, or says
 * which close code Discord would answer it with: 4002 for oversize, invalid
 * UTF-8, non-JSON or a malformed payload; 4001 for an op a client may not send; 4013 for bad
 * intents; 4010 for a bad shard pair.
 */
export function decodeFrame(data: string | Uint8Array): DecodeResult {
  const size = typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.byteLength;
  if (size > MAX_CLIENT_PAYLOAD_BYTES) return fail(GatewayCloseCode.DECODE_ERROR, 'payload too large');
  // The gateway's ws skips its own UTF-8 check (it would close 1007 by itself); Discord answers 4002.
  if (typeof data !== 'string' && !isUtf8(data)) return fail(GatewayCloseCode.DECODE_ERROR, 'invalid UTF-8');
  const text = typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');

  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return fail(GatewayCloseCode.DECODE_ERROR, 'invalid JSON');
  }
  const outer = frameSchema.safeParse(json);
  if (!outer.success) return fail(GatewayCloseCode.DECODE_ERROR, 'invalid payload');

  const { op, d } = outer.data;
  const schema = CLIENT_OP_SCHEMAS.get(op);
  if (schema === undefined) return fail(GatewayCloseCode.UNKNOWN_OPCODE);

  const inner = schema.safeParse(d);
  if (!inner.success) {
    const issues = inner.error.issues;
    if (op === GatewayOp.IDENTIFY) {
      if (issues.some((i) => i.path[0] === 'intents')) return fail(GatewayCloseCode.INVALID_INTENTS);
      if (issues.some((i) => i.path[0] === 'shard')) return fail(GatewayCloseCode.INVALID_SHARD);
    }
    const first = issues[0];
    const where = first === undefined || first.path.length === 0 ? 'd' : `d.${first.path.join('.')}`;
    return fail(GatewayCloseCode.DECODE_ERROR, `invalid ${where}`);
  }
  return { ok: true, frame: { op, d: inner.data } as ClientFrame };
}

/**
 * Which shard a guild belongs to: (guild_id >> 22) % num_shards.
 * https://discord.com/developers/docs/events/gateway#sharding-sharding-formula
 */
export function shardOf(guildId: string, numShards: number): number {
  if (!Number.isInteger(numShards) || numShards < 1) throw new RangeError('numShards must be a positive integer');
  return Number((BigInt(guildId) >> 22n) % BigInt(numShards));
}
