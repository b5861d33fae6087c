// Bug 2 of issue 16: a request body that never finishes. Authentication is
// decided from the headers before any body is read, and a request that takes
// too long to arrive is cut off. Raw sockets: fetch cannot send a short body.
import type { Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RateLimiter } from '../../../server/rest/auth.js';
import { type TestServer, type TestUser, startTestServer } from '../../support/server.js';
import { type RawExchange, rawRequest as open, within } from '../../support/raw-http.js';

const REQUEST_TIMEOUT_MS = 600;

let t: TestServer;
// The default timeout (10 s): an answer well within it came from the headers alone.
let patient: TestServer;
let alice: TestUser;
let channelId: string;
beforeAll(async () => {
  t = await startTestServer({ GUILDHALL_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) });
  patient = await startTestServer();
  alice = await t.user('alice');
  channelId = (await t.guild(alice.id, [alice.id])).channelId;
});
afterAll(async () => {
  await t.close();
  await patient.close();
});
const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
});
function rawRequest(base: string, head: string, body?: string): RawExchange {
  const x = open(base, head, body);
  sockets.push(x.socket);
  return x;
}

function postHead(path: string, contentLength: number, authorization?: string): string {
  const host = '127.0.0.1';
  const auth = authorization === undefined ? '' : `Authorization: ${authorization}\r\n`;
  return `POST /api/v10${path} HTTP/1.1\r\nHost: ${host}\r\n${auth}Content-Type: application/json\r\nContent-Length: ${contentLength}\r\n\r\n`;
}

describe('requests that never finish', () => {
  it('answers an unauthenticated POST at once with 401 and closes the socket, without waiting for the body', async () => {
    const x = rawRequest(patient.url, postHead(`/channels/${channelId}/messages`, 65_000), '{"content":"');
    expect(await within(x.status, 3000, 'status')).toBe(401);
    const text = await within(x.closed, 3000, 'close');
    expect(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4))).toMatchObject({ code: 40001 });
  });

  it('answers a rate-limited POST at once with 429 and closes the socket, without waiting for the body', async () => {
    const limited = await startTestServer({}, { rateLimiter: new RateLimiter({ perSecond: 1, now: () => 0 }) });
    try {
      const bob = await limited.user('bob');
      expect((await limited.api('/users/@me', { token: bob.token })).status).toBe(200);
      const x = rawRequest(limited.url, postHead(`/channels/${channelId}/messages`, 65_000, `Bot ${bob.token}`), '{"content":"');
      expect(await within(x.status, 3000, 'status')).toBe(429);
      await within(x.closed, 3000, 'close');
    } finally {
      await limited.close();
    }
  });

  it('cuts off an authenticated body that does not arrive within the request timeout (408, closed)', async () => {
    const t0 = Date.now();
    const x = rawRequest(t.url, postHead(`/channels/${channelId}/messages`, 65_000, `Bot ${alice.token}`), '{"content":"');
    const text = await within(x.closed, REQUEST_TIMEOUT_MS + 5000, 'close');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
    expect(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4))).toEqual({ code: 0, message: '408: Request Timeout' });
    // Nothing was created from the half a body.
    const list = await t.api(`/channels/${channelId}/messages`, { token: alice.token });
    expect(list.body).toEqual([]);
  });

  it('cuts off headers that never finish within the timeout', async () => {
    const host = new URL(t.url).host;
    const x = rawRequest(t.url, `GET /api/v10/gateway HTTP/1.1\r\nHost: ${host}\r\nX-Slow: `);
    const text = await within(x.closed, REQUEST_TIMEOUT_MS + 5000, 'close');
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
  });
});

describe("a request timeout above Node's default (300 s)", () => {
  it('starts and serves: Node checks headersTimeout against its own requestTimeout when the server is made', async () => {
    const long = await startTestServer({ GUILDHALL_REQUEST_TIMEOUT_MS: '301000' });
    try {
      expect((await fetch(`${long.url}/healthz`)).status).toBe(200);
    } finally {
      await long.close();
    }
  });
});
