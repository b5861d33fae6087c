// A test server whose debug-sampling clock the test moves (windows last
// minutes; tests must not), with the small helpers the debug tests share.
import { type GuildhallServer, createServer } from '../../../server/app.js';
import { issueToken } from '../../../server/auth/token.js';
import { loadConfig } from '../../../server/config.js';
import type { StoredSpan } from '../../../tracing/index.js';
import { settle } from '../../support/actors.js';
import { GatewayClient } from '../../support/gateway-client.js';
import { TEST_DATABASE_ENV, TEST_SECRET } from '../../support/server.js';

export interface DebugWorld {
  server: GuildhallServer;
  url: string;
  /** Moves the debug-sampling clock (wall-clock ms). */
  advance(ms: number): void;
  user(username: string): Promise<{ id: string; token: string }>;
  guild(ownerId: string, memberIds: string[]): Promise<{ id: string; channelId: string }>;
  /** fetch against the server root; JSON bodies in. */
  call(method: string, path: string, options?: { token?: string; body?: unknown; headers?: Record<string, string> }): Promise<Response>;
  /** Identified gateway sessions of `token`, each having received GUILD_CREATE for every guild. */
  sessions(token: string, n: number, guilds?: number): Promise<GatewayClient[]>;
  /** Flushes the built-in store's feed. */
  flush(): Promise<void>;
  /**
   * Waits until every actor is idle and open requests have answered (the spans
   * of what the test did have ended), then flushes: no guessing how long to sleep.
   */
  quiesce(): Promise<void>;
  /** Trace ids stored now. */
  traceIds(): Set<string>;
  /** Spans of traces that appeared after `before`. */
  freshSpans(before: Set<string>): StoredSpan[][];
  close(): Promise<void>;
}

export async function startDebugWorld(env: Record<string, string> = {}, tracingEnv: NodeJS.ProcessEnv = {}): Promise<DebugWorld> {
  let now = Date.parse('2026-01-01T00:00:00Z');
  // GUILDHALL_MAX_CONCURRENCY: the tests open hundreds of sessions of one user at once.
  // Tail capture off unless a test turns it on (see test/support/server.ts).
  const config = loadConfig({ PORT: '0', LOG_LEVEL: 'silent', GUILDHALL_TOKEN_SECRET: TEST_SECRET, GUILDHALL_SEED: 'false', GUILDHALL_MAX_CONCURRENCY: '1000', GUILDHALL_SLOW_DELIVERY_MS: '0', ...TEST_DATABASE_ENV, ...env });
  const server = await createServer(config, { tracingEnv, debugClock: () => now, rateLimitPerSecond: 10_000 });
  const url = await server.listen();
  const store = server.ctx.store;
  const clients: GatewayClient[] = [];
  return {
    server,
    url,
    advance(ms) {
      now += ms;
    },
    async user(username) {
      const u = await store.createUser({ username });
      return { id: u.id, token: issueToken(TEST_SECRET, u.id) };
    },
    async guild(ownerId, memberIds) {
      const g = await store.createGuild({ name: 'debugged', owner_id: ownerId });
      for (const m of memberIds) await store.addMember(g.id, m);
      const [general] = await store.listChannels(g.id);
      return { id: g.id, channelId: general!.id };
    },
    call(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      if (options.token) headers.authorization = `Bot ${options.token}`;
      if (options.body !== undefined) headers['content-type'] = 'application/json';
      return fetch(`${url}${path}`, { method, headers, ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }) });
    },
    async sessions(token, n, guilds = 1) {
      return Promise.all(
        Array.from({ length: n }, async () => {
          const c = await GatewayClient.connect(url);
          clients.push(c);
          c.identify(token);
          await c.waitForDispatch('GUILD_CREATE', guilds, 15_000);
          return c;
        }),
      );
    },
    async flush() {
      await server.ctx.tracing.provider?.forceFlush();
    },
    async quiesce() {
      // Spans end synchronously when a handler returns; a request's span ends in its onResponse hook.
      await settle(server.ctx.system);
      await new Promise((r) => setImmediate(r));
      await server.ctx.tracing.provider?.forceFlush();
    },
    traceIds() {
      return new Set(server.traceStore.list({ limit: 100_000 }).map((s) => s.traceId));
    },
    freshSpans(before) {
      return server.traceStore
        .list({ limit: 100_000 })
        .filter((s) => !before.has(s.traceId))
        .map((s) => server.traceStore.get(s.traceId)!);
    },
    async close() {
      for (const c of clients) c.ws.terminate();
      await server.close();
    },
  };
}
