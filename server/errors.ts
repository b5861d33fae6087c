// The catalog of stable error codes the server speaks. Clients (and tests)
// match on numbers, never on message text.
//
// REST errors follow Discord's JSON error format and codes so that Discord
// client libraries (discord.js, @discordjs/rest) surface them as they would
// against Discord:
// https://discord.com/developers/docs/topics/opcodes-and-status-codes#json
//
// Gateway close codes follow Discord's table:
// https://discord.com/developers/docs/topics/opcodes-and-status-codes#gateway-gateway-close-event-codes
import type { z } from 'zod';

// ---------------------------------------------------------------------------
// REST
// ---------------------------------------------------------------------------

/** One entry of the catalog: the JSON `code`, the HTTP status it goes with, and Discord's wording. */
export interface RestErrorEntry {
  readonly code: number;
  readonly status: number;
  readonly message: string;
}

function entry(code: number, status: number, message: string): RestErrorEntry {
  return { code, status, message };
}

/**
 * Every REST error the server can return. Where Discord has a JSON code we use it;
 * where Discord answers with code 0 (route-level 404/405, 401 without a token,
 * 500) we do too. Messages are Discord's wording.
 */
export const RestErrors = {
  GENERAL: entry(0, 400, 'General error'),
  NOT_FOUND: entry(0, 404, '404: Not Found'),
  METHOD_NOT_ALLOWED: entry(0, 405, '405: Method Not Allowed'),
  // Discord answers 429 with `retry_after` and `global`; the code is 0 for route limits.
  RATE_LIMITED: entry(0, 429, 'You are being rate limited.'),
  INTERNAL: entry(0, 500, '500: Internal Server Error'),
  // The database is unreachable, read-only or full, or a guild is overloaded: retry later (with Retry-After).
  SERVICE_UNAVAILABLE: entry(0, 503, '503: Service Unavailable'),
  UNKNOWN_CHANNEL: entry(10003, 404, 'Unknown Channel'),
  UNKNOWN_GUILD: entry(10004, 404, 'Unknown Guild'),
  UNKNOWN_MEMBER: entry(10007, 404, 'Unknown Member'),
  UNKNOWN_MESSAGE: entry(10008, 404, 'Unknown Message'),
  UNKNOWN_USER: entry(10013, 404, 'Unknown User'),
  UNKNOWN_EMOJI: entry(10014, 400, 'Unknown Emoji'),
  MAX_GUILDS: entry(30001, 400, 'Maximum number of guilds reached (100)'),
  MAX_REACTIONS: entry(30010, 400, 'Maximum number of reactions reached (20)'),
  MAX_CHANNELS: entry(30013, 400, 'Maximum number of guild channels reached (500)'),
  UNAUTHORIZED: entry(40001, 401, '401: Unauthorized'),
  REQUEST_TOO_LARGE: entry(40005, 413, 'Request entity too large'),
  MISSING_ACCESS: entry(50001, 403, 'Missing Access'),
  CANNOT_EDIT_OTHERS_MESSAGE: entry(50005, 403, 'Cannot edit a message authored by another user'),
  EMPTY_MESSAGE: entry(50006, 400, 'Cannot send an empty message'),
  MISSING_PERMISSIONS: entry(50013, 403, 'Missing Permissions'),
  INVALID_CHANNEL_TYPE: entry(50024, 400, 'Cannot execute action on this channel type'),
  INVALID_FORM_BODY: entry(50035, 400, 'Invalid Form Body'),
  INVALID_JSON: entry(50109, 400, 'The request body contains invalid JSON.'),
  // Operator endpoints (/debug); Discord has no such resources, so code 0 as for its route-level errors.
  UNKNOWN_TRACE: entry(0, 404, 'Unknown Trace'),
  UNKNOWN_DEBUG_WINDOW: entry(0, 404, 'Unknown Debug Window'),
} as const satisfies Record<string, RestErrorEntry>;

export type RestErrorName = keyof typeof RestErrors;

/** One field problem in Discord's nested `errors` object. Codes are Discord's (e.g. BASE_TYPE_REQUIRED). */
export interface FieldError {
  code: string;
  message: string;
}

/**
 * Discord's nested form errors: keys follow the path into the body (array
 * indices as strings), leaves hold `_errors`. Example for a missing `content`:
 * `{ content: { _errors: [{ code: 'BASE_TYPE_REQUIRED', message: 'This field is required' }] } }`.
 */
export interface FormErrors {
  _errors?: FieldError[];
  [key: string]: FormErrors | FieldError[] | undefined;
}

/** The JSON body of every error response. */
export interface RestErrorBody {
  code: number;
  message: string;
  errors?: FormErrors;
  /** Only on 429, seconds (fractional), as Discord sends it. */
  retry_after?: number;
  /** Only on 429. */
  global?: boolean;
}

export interface HttpErrorOptions {
  /** Overrides the catalog's message (the code stays stable). */
  message?: string;
  errors?: FormErrors;
  retryAfterSeconds?: number;
  global?: boolean;
  cause?: unknown;
}

/** An error that knows its HTTP status and Discord JSON body. Route handlers throw it; the app renders it. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: number;
  readonly errors: FormErrors | undefined;
  readonly retryAfterSeconds: number | undefined;
  readonly global: boolean | undefined;

  constructor(kind: RestErrorEntry, options: HttpErrorOptions = {}) {
    super(options.message ?? kind.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HttpError';
    this.status = kind.status;
    this.code = kind.code;
    this.errors = options.errors;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.global = options.global;
  }

  /** The response body, exactly what Discord would send. */
  toBody(): RestErrorBody {
    const body: RestErrorBody = { code: this.code, message: this.message };
    if (this.errors !== undefined) body.errors = this.errors;
    if (this.retryAfterSeconds !== undefined) {
      body.retry_after = this.retryAfterSeconds;
      body.global = this.global ?? false;
    }
    return body;
  }
}

/** Shorthand: `httpError('UNKNOWN_GUILD')`. */
export function httpError(name: RestErrorName, options?: HttpErrorOptions): HttpError {
  return new HttpError(RestErrors[name], options);
}

export function isHttpError(err: unknown, kind?: RestErrorEntry): err is HttpError {
  if (!(err instanceof HttpError)) return false;
  return kind === undefined || (err.code === kind.code && err.status === kind.status);
}

/** A 429 with Discord's `retry_after` (seconds) and `global` fields. */
export function rateLimited(retryAfterSeconds: number, global = false): HttpError {
  return new HttpError(RestErrors.RATE_LIMITED, { retryAfterSeconds, global });
}

/**
 * Builds a 50035 Invalid Form Body from a zod failure. `input` is the value
 * that was parsed: zod does not keep it on issues, and it is what tells a
 * missing field (BASE_TYPE_REQUIRED) from a wrong one.
 */
export function invalidFormBody(error: z.ZodError, input: unknown): HttpError {
  return new HttpError(RestErrors.INVALID_FORM_BODY, { errors: formErrorsFromZod(error, input), cause: error });
}

/** Converts zod issues into Discord's nested `errors` object. */
export function formErrorsFromZod(error: z.ZodError, input: unknown): FormErrors {
  const root: FormErrors = {};
  for (const issue of error.issues) {
    let node = root;
    for (const key of issue.path) {
      const k = String(key);
      const child = node[k];
      if (child === undefined || Array.isArray(child)) {
        const fresh: FormErrors = {};
        node[k] = fresh;
        node = fresh;
      } else {
        node = child;
      }
    }
    (node._errors ??= []).push(fieldErrorOf(issue, valueAt(input, issue.path)));
  }
  return root;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

// Discord's form error codes, as seen in its 50035 responses.
function fieldErrorOf(issue: z.core.$ZodIssue, value: unknown): FieldError {
  switch (issue.code) {
    case 'invalid_type':
      if (value === undefined || value === null) return { code: 'BASE_TYPE_REQUIRED', message: 'This field is required' };
      if (issue.expected === 'number' || issue.expected === 'int') {
        return { code: 'NUMBER_TYPE_COERCE', message: `Value "${String(value)}" is not int.` };
      }
      if (issue.expected === 'array') return { code: 'LIST_TYPE_CONVERT', message: 'Only iterables may be used in a ListType' };
      if (issue.expected === 'object') return { code: 'DICT_TYPE_CONVERT', message: 'Only dictionaries may be used in a DictType' };
      return { code: 'BASE_TYPE_BAD_TYPE', message: `Must be of type ${issue.expected}.` };
    case 'too_small':
      if (issue.origin === 'number' || issue.origin === 'int' || issue.origin === 'bigint') {
        return { code: 'NUMBER_TYPE_MIN', message: `int value should be greater than or equal to ${String(issue.minimum)}.` };
      }
      return { code: 'BASE_TYPE_MIN_LENGTH', message: `Must be ${String(issue.minimum)} or more in length.` };
    case 'too_big':
      if (issue.origin === 'number' || issue.origin === 'int' || issue.origin === 'bigint') {
        return { code: 'NUMBER_TYPE_MAX', message: `int value should be less than or equal to ${String(issue.maximum)}.` };
      }
      return { code: 'BASE_TYPE_MAX_LENGTH', message: `Must be ${String(issue.maximum)} or fewer in length.` };
    case 'invalid_format':
      return { code: 'STRING_TYPE_REGEX', message: issue.message };
    case 'invalid_value':
      return { code: 'BASE_TYPE_CHOICES', message: `Value must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}.` };
    default:
      return { code: 'BASE_TYPE_INVALID', message: issue.message };
  }
}

// ---------------------------------------------------------------------------
// Gateway
// ---------------------------------------------------------------------------

export const GatewayCloseCode = {
  UNKNOWN_ERROR: 4000,
  UNKNOWN_OPCODE: 4001,
  DECODE_ERROR: 4002,
  NOT_AUTHENTICATED: 4003,
  AUTHENTICATION_FAILED: 4004,
  ALREADY_AUTHENTICATED: 4005,
  INVALID_SEQ: 4007,
  RATE_LIMITED: 4008,
  SESSION_TIMED_OUT: 4009,
  INVALID_SHARD: 4010,
  SHARDING_REQUIRED: 4011,
  INVALID_API_VERSION: 4012,
  INVALID_INTENTS: 4013,
  DISALLOWED_INTENTS: 4014,
} as const;

export type GatewayCloseCode = (typeof GatewayCloseCode)[keyof typeof GatewayCloseCode];

/** Discord's short descriptions, used as the WebSocket close reason. */
export const GatewayCloseReason: Readonly<Record<GatewayCloseCode, string>> = {
  4000: 'Unknown error.',
  4001: 'Unknown opcode.',
  4002: 'Decode error.',
  4003: 'Not authenticated.',
  4004: 'Authentication failed.',
  4005: 'Already authenticated.',
  4007: 'Invalid seq.',
  4008: 'Rate limited.',
  4009: 'Session timed out.',
  4010: 'Invalid shard.',
  4011: 'Sharding required.',
  4012: 'Invalid API version.',
  4013: 'Invalid intent(s).',
  4014: 'Disallowed intent(s).',
};

// Discord's table: these close codes mean "do not reconnect", the client must fix something first.
const NOT_RECONNECTABLE: ReadonlySet<number> = new Set([4004, 4010, 4011, 4012, 4013, 4014]);
// Reconnectable but the old session is gone: the client must IDENTIFY afresh rather than RESUME.
// 4003 has no session to resume; 4007 means the seq cannot be replayed; 4009 means the session expired.
// This mirrors how @discordjs/ws recovers from each code.
const FRESH_SESSION: ReadonlySet<number> = new Set([4003, 4007, 4009]);

export function isGatewayCloseCode(code: number): code is GatewayCloseCode {
  return Object.hasOwn(GatewayCloseReason, code);
}

/** Whether a client may reconnect after this close code (Discord's "Reconnect" column). */
export function canReconnect(code: number): boolean {
  return !NOT_RECONNECTABLE.has(code);
}

/** Whether a client may RESUME its session after this close code. */
export function canResume(code: number): boolean {
  return canReconnect(code) && !FRESH_SESSION.has(code);
}
