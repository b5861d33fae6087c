// The small part of Discord's gateway v10 the simulator speaks, written out
// here rather than imported: client-sim knows the server only by its public
// protocol. https://discord.com/developers/docs/events/gateway
export const Op = {
  DISPATCH: 0,
  HEARTBEAT: 1,
  IDENTIFY: 2,
  PRESENCE_UPDATE: 3,
  RESUME: 6,
  RECONNECT: 7,
  INVALID_SESSION: 9,
  HELLO: 10,
  HEARTBEAT_ACK: 11,
} as const;

export const Intents = {
  Guilds: 1 << 0,
  GuildMembers: 1 << 1,
  GuildPresences: 1 << 8,
  GuildMessages: 1 << 9,
  GuildMessageReactions: 1 << 10,
  GuildMessageTyping: 1 << 11,
  MessageContent: 1 << 15,
} as const;

/** Messages with their content, so each arrival can be matched by the nonce in it. */
export const MESSAGE_INTENTS = Intents.Guilds | Intents.GuildMessages | Intents.MessageContent;
/** Messages plus presence updates. */
export const PRESENCE_INTENTS = MESSAGE_INTENTS | Intents.GuildPresences;

/** What a client appends to a gateway URL (GET /gateway, resume_gateway_url). */
export const GATEWAY_QUERY = 'v=10&encoding=json';

/** Close codes after which Discord says not to reconnect (bad token, bad intents...). */
export const FATAL_CLOSE_CODES = new Set([4004, 4010, 4011, 4012, 4013, 4014]);

export interface GatewayPayload {
  op: number;
  d: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  s: number | null;
  t: string | null;
}

/** Tracked events carry `sim:<key>` at the start of a message's content or of a presence activity's name. */
export const NONCE_PREFIX = 'sim:';

export function nonceOf(text: unknown): string | undefined {
  if (typeof text !== 'string' || !text.startsWith(NONCE_PREFIX)) return undefined;
  const end = text.indexOf(' ', NONCE_PREFIX.length);
  return text.slice(NONCE_PREFIX.length, end < 0 ? undefined : end);
}
