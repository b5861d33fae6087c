// Tokens that verify without a database lookup, shaped like Discord's:
//   base64url(user id) . base64url(issued-at, unix seconds) . base64url(HMAC-SHA256 truncated to 27 bytes)
// The MAC covers the first two parts, so a token cannot be forged or have its
// user id swapped without the secret. The cost of skipping the lookup: a single
// token cannot be revoked; rotating the secret revokes all of them.
import { createHmac, timingSafeEqual } from 'node:crypto';

const MAC_BYTES = 27;
const PART = /^[A-Za-z0-9_-]+$/;
const USER_ID = /^[1-9]\d{0,19}$/;
const SECONDS = /^(0|[1-9]\d{0,11})$/;

export type TokenSecret = string | Buffer;

export interface TokenClaims {
  userId: string;
  /** Unix seconds. */
  issuedAt: number;
}

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

function mac(secret: TokenSecret, payload: string): Buffer {
  return createHmac('sha256', secret).update(payload).digest().subarray(0, MAC_BYTES);
}

/** Issues a token for `userId`. `nowMs` is injectable so tests need no real clock. */
export function issueToken(secret: TokenSecret, userId: string, nowMs: number = Date.now()): string {
  if (secret.length === 0) throw new TypeError('token secret must not be empty');
  if (!USER_ID.test(userId)) throw new TypeError('userId must be a snowflake');
  const payload = `${b64(userId)}.${b64(String(Math.floor(nowMs / 1000)))}`;
  return `${payload}.${mac(secret, payload).toString('base64url')}`;
}

/** The claims of a genuine token, or undefined for anything else. Never throws. */
export function verifyTokenClaims(secret: TokenSecret, token: unknown): TokenClaims | undefined {
  if (typeof token !== 'string' || token.length > 256 || secret.length === 0) return undefined;
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [idPart, timePart, macPart] = parts as [string, string, string];
  if (!PART.test(idPart) || !PART.test(timePart) || !PART.test(macPart)) return undefined;
  const given = Buffer.from(macPart, 'base64url');
  // Reject non-canonical encodings so one token has exactly one spelling.
  if (given.length !== MAC_BYTES || given.toString('base64url') !== macPart) return undefined;
  const expected = mac(secret, `${idPart}.${timePart}`);
  // Constant-time: the comparison must not reveal how many leading bytes matched.
  if (!timingSafeEqual(given, expected)) return undefined;
  const userId = Buffer.from(idPart, 'base64url').toString('utf8');
  const seconds = Buffer.from(timePart, 'base64url').toString('utf8');
  if (!USER_ID.test(userId) || !SECONDS.test(seconds)) return undefined;
  return { userId, issuedAt: Number(seconds) };
}

/** The user id of a genuine token, or undefined. Never throws. */
export function verifyToken(secret: TokenSecret, token: unknown): string | undefined {
  return verifyTokenClaims(secret, token)?.userId;
}

/**
 * Extracts the token from an Authorization header. Discord bots send
 * `Bot <token>`, OAuth clients `Bearer <token>`, and user clients the bare
 * token (https://discord.com/developers/docs/reference#authentication).
 */
export function parseAuthorization(header: string | readonly string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const trimmed = header.trim();
  if (trimmed === '') return undefined;
  const match = /^(bot|bearer)\s+(\S+)$/i.exec(trimmed);
  if (match) return match[2];
  return /\s/.test(trimmed) ? undefined : trimmed;
}
