// How failures look on the wire: always Discord's JSON error body
// (https://discord.com/developers/docs/topics/opcodes-and-status-codes#json),
// whatever raised them: our HttpErrors, the store's StoreErrors (mapped here
// and nowhere else), Fastify's own errors (bad JSON, body too large), the
// actor runtime (an overloaded guild), or a bug (a bare 500, never a stack
// trace).
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ActorErrorCode, isActorError } from '../../actors/index.js';
import { HttpError, type RestErrorEntry, type RestErrorName, httpError } from '../errors.js';
import { StoreError, type StoreErrorCode } from '../store/errors.js';

// Statuses Discord answers with code 0 and that the catalog has no entry for.
const UNSUPPORTED_MEDIA_TYPE: RestErrorEntry = { code: 0, status: 415, message: '415: Unsupported Media Type' };

/** The store's codes as Discord's errors. The database's own trouble is a 503: the request was fine, retry later. */
const STORE_ERRORS: Record<Exclude<StoreErrorCode, 'USERNAME_TAKEN'>, RestErrorName> = {
  UNKNOWN_GUILD: 'UNKNOWN_GUILD',
  UNKNOWN_CHANNEL: 'UNKNOWN_CHANNEL',
  UNKNOWN_MESSAGE: 'UNKNOWN_MESSAGE',
  UNKNOWN_USER: 'UNKNOWN_USER',
  UNKNOWN_MEMBER: 'UNKNOWN_MEMBER',
  MAX_REACTIONS: 'MAX_REACTIONS',
  UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  READ_ONLY: 'SERVICE_UNAVAILABLE',
  DISK_FULL: 'SERVICE_UNAVAILABLE',
};

function fromStoreError(err: StoreError): HttpError {
  if (err.code === 'USERNAME_TAKEN') {
    // Discord reports a taken username as a form error on the field.
    return httpError('INVALID_FORM_BODY', {
      cause: err,
      errors: { username: { _errors: [{ code: 'USERNAME_ALREADY_TAKEN', message: 'Username is unavailable. Try another.' }] } },
    });
  }
  return httpError(STORE_ERRORS[err.code], { cause: err });
}

/** Any thrown value as the HttpError the client should see. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof StoreError) return fromStoreError(err);
  if (isActorError(err)) {
    // The guild's mailbox is full, it did not answer in time, or it is shutting down:
    // the request was fine, the server is busy. Retrying later is the right move.
    // In a cluster, the guild's node went away (ACTOR_ERR_NODE_DOWN): its guilds run elsewhere shortly.
    if (err.code === ActorErrorCode.MAILBOX_FULL || err.code === ActorErrorCode.CALL_TIMEOUT || err.code === ActorErrorCode.STOPPED || err.code === ActorErrorCode.NODE_DOWN) {
      return httpError('SERVICE_UNAVAILABLE', { cause: err });
    }
    return httpError('INTERNAL', { cause: err });
  }
  const fe = err as Partial<FastifyError> | undefined;
  switch (fe?.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return httpError('INVALID_JSON', { cause: err });
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return httpError('REQUEST_TOO_LARGE', { cause: err });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HttpError(UNSUPPORTED_MEDIA_TYPE, { cause: err });
  }
  // Other client errors Fastify detects (bad Content-Length, a malformed URL...) keep their status.
  const status = fe?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Discord's wording for these is the status line; Fastify's messages would echo the input back.
    return new HttpError({ code: 0, status, message: `${status}: ${STATUS_CODES[status] ?? 'Bad Request'}` }, { cause: err });
  }
  return httpError('INTERNAL', { cause: err });
}

/** Writes `error` as Discord would, with the rate-limit headers on a 429. */
export function sendHttpError(reply: FastifyReply, error: HttpError): FastifyReply {
  if (error.retryAfterSeconds !== undefined) {
    // Header in whole seconds (rounded up), body in fractional seconds, as Discord sends them.
    reply.header('retry-after', String(Math.max(1, Math.ceil(error.retryAfterSeconds))));
    // Discord sends X-RateLimit-Global only for the global limit (clients test for its presence);
    // a route bucket's 429 is scoped to the user.
    if (error.global) reply.header('x-ratelimit-global', 'true');
    reply.header('x-ratelimit-scope', error.global ? 'global' : 'user');
  }
  if (error.status === 503) reply.header('retry-after', '1');
  return reply.code(error.status).type('application/json; charset=utf-8').send(error.toBody());
}

/**
 * Installs the error handler and the 404/405 handler on the root instance.
 * Must run before routes are registered: it watches them to tell "no such
 * path" (404) from "no such method on this path" (405).
 */
export function registerErrorHandling(app: FastifyInstance): void {
  const routes: { pattern: RegExp; methods: Set<string> }[] = [];
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    routes.push({ pattern: routePattern(route.url ?? route.path), methods: new Set(methods) });
  });

  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const error = toHttpError(err);
    if (error.status >= 500) request.log.error({ err }, 'request failed');
    return sendHttpError(reply, error);
  });

  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?', 1)[0]!;
    const allowed = new Set<string>();
    for (const r of routes) if (r.pattern.test(path)) for (const m of r.methods) allowed.add(m);
    if (allowed.size === 0) return sendHttpError(reply, httpError('NOT_FOUND'));
    // RFC 9110 15.5.6: a 405 lists what the resource does allow.
    reply.header('allow', [...allowed].sort().join(', '));
    return sendHttpError(reply, httpError('METHOD_NOT_ALLOWED'));
  });
}

/** `/api/v10/guilds/:guild_id` -> /^\/api\/v10\/guilds\/[^/]+$/ (strict about trailing slashes, as the router is). */
function routePattern(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment === '*' ? '.*' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}$`);
}
