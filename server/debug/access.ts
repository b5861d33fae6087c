// Who may see /debug and everything under it (the trace viewer, debug
// sampling, and whatever is added there later): one onRequest hook on the
// prefix, so a new /debug route is guarded without remembering to.
//
// - GUILDHALL_ADMIN_SECRET set: every /debug request must present it, as
//   `X-Admin-Secret: <secret>`, `Authorization: Bearer <secret>`, or HTTP Basic
//   with the secret as the password (what a browser prompts for, so the viewer
//   pages still open in one). Compared in constant time. 401 / 40001 otherwise.
// - No secret, listening on loopback only: open, for laptops and test rigs.
// - No secret, listening beyond loopback: nothing is served (403 / 50001); the
//   pages show session, user and guild ids, which are not for anyone who can
//   reach the port. A warning at start says so.
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { Config } from '../config.js';
import { HttpError, RestErrors, httpError } from '../errors.js';
import type { ServerLogger } from '../logger.js';
import { secretMatches } from '../rest/routes/dev.js';

const LOOPBACK_NAMES = new Set(['localhost', '::1', '[::1]']);

/** Whether a bind address only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase();
  return LOOPBACK_NAMES.has(h) || /^127(?:\.\d{1,3}){3}$/.test(h) || /^::ffff:127(?:\.\d{1,3}){3}$/.test(h);
}

function isDebugPath(url: string): boolean {
  return url === '/debug' || url.startsWith('/debug/') || url.startsWith('/debug?');
}

/** The secret the request presents, from any of the accepted places. */
function presentedSecret(request: FastifyRequest): string | undefined {
  const header = request.headers['x-admin-secret'];
  if (typeof header === 'string') return header;
  const auth = request.headers.authorization;
  if (auth === undefined) return undefined;
  const [scheme, value = ''] = auth.split(' ', 2);
  if (scheme?.toLowerCase() === 'bearer') return value;
  if (scheme?.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    return decoded.slice(decoded.indexOf(':') + 1);
  }
  return undefined;
}

export function registerDebugAccess(app: FastifyInstance, config: Pick<Config, 'adminSecret' | 'host'>, logger: ServerLogger): void {
  const { adminSecret } = config;
  const closed = adminSecret === undefined && !isLoopbackHost(config.host);
  if (closed) {
    logger.warn({ host: config.host }, 'listening beyond loopback without GUILDHALL_ADMIN_SECRET: /debug (trace viewer, debug sampling) is not served; set one to use it');
  }
  /** The refusal of a /debug request, or undefined to let it through. */
  function refusal(request: FastifyRequest, reply: FastifyReply): HttpError | undefined {
    if (closed) return new HttpError(RestErrors.MISSING_ACCESS, { message: 'Debug endpoints need GUILDHALL_ADMIN_SECRET when listening beyond loopback' });
    if (adminSecret === undefined || secretMatches(presentedSecret(request), adminSecret)) return undefined;
    // Lets a browser prompt for it (any user name, the secret as the password).
    reply.header('www-authenticate', 'Basic realm="guildhall debug", charset="UTF-8"');
    return httpError('UNAUTHORIZED');
  }
  // A callback hook, not an async one: it runs on every request, and an async hook costs each a promise and its
  // reaction before the request can go on.
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    done(isDebugPath(request.url) ? refusal(request, reply) : undefined);
  });
}
