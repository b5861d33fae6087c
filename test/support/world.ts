// Gateway and tracing tests: a test server plus helpers that set up a world
// (users, guilds) straight through the store, and a raw REST call.
import type { Clock } from '../../actors/index.js';
import { issueToken } from '../../server/auth/token.js';
import { startTestServer as startBase, type TestServer as BaseServer, TEST_SECRET } from './server.js';

export interface TestServer extends BaseServer {
  url: string;
  /** A user made in the store, with a token (any username). */
  user(username: string): Promise<{ id: string; username: string; token: string }>;
  /** A guild owned by `owner` with the given members; ids of it and its `general` channel. */
  guild(owner: string, members: string[], name?: string): Promise<{ id: string; channelId: string }>;
  /** REST call with a user's token; the raw fetch Response. */
  rest(token: string | undefined, method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
}

export async function startTestServer(env: Record<string, string> = {}, tracingEnv: NodeJS.ProcessEnv = {}, options: { rateLimitPerSecond?: number; clock?: Clock } = {}): Promise<TestServer> {
  const base = await startBase(env, { tracingEnv, ...options });
  const store = base.server.ctx.store;
  return {
    ...base,
    url: base.base,
    async user(username) {
      const u = await store.createUser({ username });
      return { id: u.id, username: u.username, token: issueToken(TEST_SECRET, u.id) };
    },
    async guild(owner, members, name = 'test guild') {
      const g = await store.createGuild({ name, owner_id: owner });
      for (const m of members) await store.addMember(g.id, m);
      const [general] = await store.listChannels(g.id);
      return { id: g.id, channelId: general!.id };
    },
    rest(token, method, path, body, headers = {}) {
      const h: Record<string, string> = { ...headers };
      if (token) h.authorization = `Bot ${token}`;
      if (body !== undefined) h['content-type'] = 'application/json';
      return fetch(`${base.base}/api/v10${path}`, { method, headers: h, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    },
  };
}
