// Property-based fuzzing of the REST API (issue 16): random methods, paths,
// path parameters, query strings, headers and bodies against a real server.
// Properties, for every input:
// - the status is one the API documents, never a 500;
// - an error has Discord's body, {code: number, message: string, ...};
// and after the run the process is healthy and its heap is back near its baseline.
// Seeded: the seed is printed; GUILDHALL_FUZZ_SEED=<seed> replays the run.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, startTestServer } from '../support/server.js';
import { fuzzSettings } from './fuzz-env.js';

const { seed, runs } = fuzzSettings(60);
const DOCUMENTED = new Set([200, 201, 204, 400, 401, 403, 404, 405, 413, 415, 429]);

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let t: TestServer;
let ids: { guild: string; channel: string; message: string; alice: string; bob: string };
let tokens: { alice: string; bob: string };

beforeAll(async () => {
  // A high global limit: the fuzz explores the routes, not mostly the 429 path (429 is still allowed).
  t = await startTestServer({ GUILDHALL_ROUTE_RATE_LIMITS: 'on' }, { rateLimitPerSecond: 100_000 });
  const alice = await t.user('alice');
  const bob = await t.user('bob');
  const g = await t.guild(alice.id, [alice.id]);
  const m = await t.api(`/channels/${g.channelId}/messages`, { method: 'POST', token: alice.token, body: { content: 'seed message' } });
  ids = { guild: g.id, channel: g.channelId, message: m.body.id, alice: alice.id, bob: bob.id };
  tokens = { alice: alice.token, bob: bob.token };
});
afterAll(() => t?.close());

// --- inputs ---------------------------------------------------------------------

const weird = fc.constantFrom('%', '%zz', '%00', '..', '%2e%2e', '@me', '%40me', '0', '-1', '1e3', '18446744073709551616', '99999999999999999999', ' ', '%F0%9F%91%8D', 'a:b:c');
const segment = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('guild', 'channel', 'message', 'alice', 'bob').map((k) => ids[k as keyof typeof ids]) },
  { weight: 2, arbitrary: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map(String) },
  { weight: 2, arbitrary: weird },
  { weight: 2, arbitrary: fc.string({ maxLength: 30 }).map(encodeURIComponent) },
);
// Every route with its method, and a few paths that are no route at all.
const ROUTES: [string, string][] = [
  ['GET', '/users/@me'], ['GET', '/users/$'], ['GET', '/users/@me/guilds'], ['DELETE', '/users/@me/guilds/$'], ['GET', '/gateway'],
  ['GET', '/gateway/bot'], ['POST', '/guilds'], ['GET', '/guilds/$'], ['GET', '/guilds/$/channels'], ['POST', '/guilds/$/channels'],
  ['GET', '/guilds/$/members'], ['GET', '/guilds/$/members/$'], ['PUT', '/guilds/$/members/$'], ['DELETE', '/guilds/$/members/$'],
  ['GET', '/channels/$'], ['POST', '/channels/$/typing'], ['GET', '/channels/$/messages'], ['POST', '/channels/$/messages'],
  ['GET', '/channels/$/messages/$'], ['PATCH', '/channels/$/messages/$'], ['DELETE', '/channels/$/messages/$'],
  ['PUT', '/channels/$/messages/$/reactions/$/@me'], ['DELETE', '/channels/$/messages/$/reactions/$/@me'], ['POST', '/dev/users'],
  ['GET', '/$'], ['POST', '/$/$/$'],
];
const route = fc.tuple(fc.constantFrom(...ROUTES), fc.array(segment, { minLength: 3, maxLength: 3 }), fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE') })).map(([[method, tpl], segs, otherMethod]) => {
  let i = 0;
  return { method: otherMethod ?? method, path: tpl.replace(/\$/g, () => segs[i++]!) };
});
const queryValue = fc.oneof(fc.constantFrom('0', '1', '50', '100', '101', '-1', '', 'abc', '1e2'), segment, fc.string({ maxLength: 20 }));
const query = fc
  .array(fc.tuple(fc.oneof(fc.constantFrom('limit', 'before', 'after', 'around', 'token'), fc.string({ maxLength: 8 })), queryValue), { maxLength: 4 })
  .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')}`));
const fieldValue = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.string({ maxLength: 2100 }), fc.integer(), fc.constantFrom(true, null, '', ' ', 'x'.repeat(26)));
const objectBody = fc
  .dictionary(fc.oneof(fc.constantFrom('content', 'nonce', 'enforce_nonce', 'name', 'type', 'topic', 'position', 'embeds', 'username', 'global_name', 'bot', '__proto__', 'constructor'), fc.string({ maxLength: 10 })), fieldValue, { maxKeys: 5 })
  .map((o) => JSON.stringify(o));
const body = fc.oneof(
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: objectBody },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.constantFrom('{"__proto__":{"x":1}}', '{"content":"a"', '[', 'null', '{}', 'x'.repeat(70_000)) },
);
const contentType = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', undefined, 'multipart/form-data; boundary=x');
// Mostly alice (a member of the guild), so the fuzz gets past authentication and membership.
const auth = fc.constantFrom<'alice' | 'bob' | 'none' | 'garbage'>('alice', 'alice', 'alice', 'alice', 'bob', 'none', 'garbage');
const request = fc.record({ route, query, body, contentType, auth }).map(({ route: { method, path }, ...rest }) => ({ method, path, ...rest }));
type FuzzRequest = typeof request extends fc.Arbitrary<infer R> ? R : never;

async function send(r: FuzzRequest): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = {};
  if (r.auth === 'alice' || r.auth === 'bob') headers.authorization = `Bot ${tokens[r.auth]}`;
  if (r.auth === 'garbage') headers.authorization = 'Bot a.b.c';
  if (r.contentType !== undefined && r.body !== undefined) headers['content-type'] = r.contentType;
  const hasBody = r.body !== undefined && r.method !== 'GET';
  const res = await fetch(`${t.url}/api/v10${r.path}${r.query}`, { method: r.method, headers, ...(hasBody ? { body: r.body } : {}) });
  return { status: res.status, text: await res.text() };
}

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe(`REST fuzz (seed ${seed}, ${runs} runs; replay with GUILDHALL_FUZZ_SEED=${seed})`, () => {
  it('answers every input with a documented status and Discord\'s error body, never a 500', async () => {
    console.log(`REST fuzz: seed ${seed}, ${runs} runs (GUILDHALL_FUZZ_SEED=${seed} GUILDHALL_FUZZ_RUNS=${runs} replays)`);
    // Warm-up, then the baseline: whatever the first requests allocate for good (JIT, caches) is not a leak.
    await fc.assert(fc.asyncProperty(request, async (r) => void (await send(r))), { seed: seed + 1, numRuns: Math.min(runs, 50) });
    const baseline = heapUsed();
    const statuses = new Map<number, number>();

    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const { status, text } = await send(r);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        expect(DOCUMENTED.has(status), `status ${status} for ${r.method} ${r.path}${r.query}: ${text.slice(0, 200)}`).toBe(true);
        if (status >= 400) {
          const parsed = JSON.parse(text) as unknown;
          expect(parsed, `${r.method} ${r.path}${r.query}`).toMatchObject({ code: expect.any(Number), message: expect.any(String) });
        }
      }),
      { seed, numRuns: runs },
    );

    // What the run covered, so a fuzz that only ever met 404s shows itself.
    console.log(`REST fuzz statuses: ${[...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}x${n}`).join(' ')}`);
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    // What the fuzz may keep on purpose: messages (<= 2000 characters), guilds, users it created.
    // Anything past 16 MiB + 8 KiB per request is memory the server did not give back.
    const grown = heapUsed() - baseline;
    expect(grown, `heap grew ${(grown / 1024 / 1024).toFixed(1)} MiB`).toBeLessThan(16 * 1024 * 1024 + runs * 8 * 1024);
  }, 60_000 + runs * 200);
});
