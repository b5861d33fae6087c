// A real Guildhall server on 127.0.0.1 port 0, and small clients for it.
// Users and guilds are made straight in the store (works whatever the env says
// about dev accounts); everything else goes over real HTTP.
import type { Clock } from '../../actors/index.js';
import { type GuildhallServer, createServer } from '../../server/app.js';
import { issueToken } from '../../server/auth/token.js';
import { loadConfig } from '../../server/config.js';
import type { RateLimiter } from '../../server/rest/auth.js';
import type { RouteLimiterOptions } from '../../server/rest/route-limits.js';

export const TEST_SECRET = 'test-token-secret-0123456789';

/**
 * Tests run on SQLite `:memory:` unless they say otherwise: the same SQL store as production, nothing on
 * disk. GUILDHALL_SQLITE_BINDING passes through (.ci/with-node sets it for another Node version).
 */
export const TEST_DATABASE_ENV: Record<string, string> = {
  DATABASE_URL: 'sqlite::memory:',
  ...(process.env.GUILDHALL_SQLITE_BINDING ? { GUILDHALL_SQLITE_BINDING: process.env.GUILDHALL_SQLITE_BINDING } : {}),
};

export interface TestUser {
  id: string;
  username: string;
  token: string;
}

export interface TestGuild {
  id: string;
  /** The `general` channel every new guild has. */
  channelId: string;
}

export interface ApiInit {
  method?: string;
  /** Sent as `Authorization: Bot <token>`. */
  token?: string;
  /** Serialised as JSON unless it is a string (sent as is, with a JSON content type). */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON, or undefined for an empty body. */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface TestServer {
  server: GuildhallServer;
  /** http://127.0.0.1:port */
  url: string;
  /** Same as `url`. */
  base: string;
  /** `fetch` against /api/v10 + path; JSON in, parsed JSON out. */
  api(path: string, init?: ApiInit): Promise<ApiResponse>;
  /** `fetch` against /api/v10 + path with a bot token; the raw Response. */
  rest(token: string, method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  /** A new user (straight in the store) with a token. */
  user(username: string): Promise<TestUser>;
  /** A new guild owned by `ownerId` with `memberIds` as members (straight in the store). */
  guild(ownerId: string, memberIds: string[], name?: string): Promise<TestGuild>;
  close(): Promise<void>;
}

export interface TestServerOptions {
  /** OTEL_* variables; default none (tracing on, parent-based always-on, no export). */
  tracingEnv?: NodeJS.ProcessEnv;
  rateLimitPerSecond?: number;
  rateLimiter?: RateLimiter;
  /** The server's clock (a ManualClock in tests that would otherwise wait for timeouts). */
  clock?: Clock;
  routeLimits?: RouteLimiterOptions;
}

export async function startTestServer(env: Record<string, string> = {}, options: TestServerOptions = {}): Promise<TestServer> {
  // Per-route buckets (5 messages per 5 s per channel...) are off unless a test asks for them:
  // tests of other features post faster than Discord's pacing. route-limits.test.ts turns them on.
  // Tail capture is off unless a test turns it on: on a busy machine any delivery may take 100 ms,
  // and a tail span would then join the spans a tracing test counts.
  const config = loadConfig({ PORT: '0', LOG_LEVEL: 'silent', GUILDHALL_TOKEN_SECRET: TEST_SECRET, GUILDHALL_SEED: 'false', GUILDHALL_ROUTE_RATE_LIMITS: 'off', GUILDHALL_SLOW_DELIVERY_MS: '0', ...TEST_DATABASE_ENV, ...env });
  const server = await createServer(config, {
    tracingEnv: options.tracingEnv ?? {},
    ...(options.rateLimitPerSecond === undefined ? {} : { rateLimitPerSecond: options.rateLimitPerSecond }),
    ...(options.rateLimiter === undefined ? {} : { rateLimiter: options.rateLimiter }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.routeLimits === undefined ? {} : { routeLimits: options.routeLimits }),
  });
  const url = await server.listen();
  const store = server.ctx.store;

  async function api(path: string, init: ApiInit = {}): Promise<ApiResponse> {
    const headers: Record<string, string> = { ...init.headers };
    if (init.token !== undefined) headers.authorization = `Bot ${init.token}`;
    let body: string | undefined;
    if (init.body !== undefined) {
      body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${url}/api/v10${path}`, { method: init.method ?? 'GET', headers, ...(body === undefined ? {} : { body }) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
  }

  return {
    server,
    url,
    base: url,
    api,
    rest(token, method, path, body, headers = {}) {
      const h: Record<string, string> = { authorization: `Bot ${token}`, ...headers };
      if (body !== undefined) h['content-type'] = 'application/json';
      return fetch(`${url}/api/v10${path}`, { method, headers: h, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    },
    async user(username) {
      const user = await store.createUser({ username });
      return { id: user.id, username: user.username, token: issueToken(config.tokenSecret, user.id) };
    },
    async guild(ownerId, memberIds, name = 'Test Guild') {
      const guild = await store.createGuild({ name, owner_id: ownerId });
      for (const id of memberIds) await store.addMember(guild.id, id);
      const [general] = await store.listChannels(guild.id);
      return { id: guild.id, channelId: general!.id };
    },
    close: () => server.close(),
  };
}
