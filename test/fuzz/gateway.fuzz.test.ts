// Property-based fuzzing of gateway frames against a real server over real
// sockets. Random frames (ops, field types, sizes, nesting, invalid JSON,
// binary frames, invalid UTF-8, frames past the size limit), sent on fresh
// connections, some of them identified first. The properties:
//   - every connection either carries on normally (its frames answered) or is
//     closed with a documented gateway close code (server/errors.ts), never
//     with 4000 Unknown error (a server bug), a WebSocket-level code or a drop;
//   - the server stays healthy: afterwards a fresh client IDENTIFYs and gets
//     READY, /healthz answers 200, and nothing is left behind (connections,
//     sessions, actors);
//   - memory comes back: heap after GC within HEAP_BOUND_BYTES of the baseline.
// Seeded and reproducible: the seed is printed; GUILDHALL_FUZZ_SEED replays a
// run, GUILDHALL_FUZZ_RUNS sets how many (default small, for npm test).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../actors/index.js';
import { GatewayCloseCode } from '../../server/errors.js';
import { IDENTIFY_WINDOW_MS } from '../../server/gateway/identify-limiter.js';
import { GatewayOp } from '../../server/gateway/protocol.js';
import { GatewayClient } from '../support/gateway-client.js';
import { until } from '../support/until.js';
import { startTestServer, type TestServer } from '../support/world.js';
import { fuzzSettings } from './fuzz-env.js';

const { runs: RUNS, seed: SEED } = fuzzSettings(60);

/** What the heap may have grown by after the runs and a full GC (the server and the runs share this process). */
const HEAP_BOUND_BYTES = 24 * 1024 * 1024;
/** Per connection: how long an answer to the frames may take. */
const ANSWER_TIMEOUT_MS = 10_000;

// Every server-made close the fuzzer may see; 4000 Unknown error is what a thrown handler gets, so it is a failure.
const ALLOWED = new Set<number>(Object.values(GatewayCloseCode).filter((c) => c !== GatewayCloseCode.UNKNOWN_ERROR));

// A full GC on demand, for the memory property (vitest does not run with --expose-gc).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

// --- frames -------------------------------------------------------------------

type Frame = { kind: 'text'; text: string } | { kind: 'bytes'; bytes: Uint8Array; binary: boolean };

interface World {
  token: string;
  guildId: string;
  memberId: string;
}

const text = (value: unknown): Frame => ({ kind: 'text', text: JSON.stringify(value) });

function frames(w: World): fc.Arbitrary<Frame> {
  const json = fc.jsonValue({ maxDepth: 4 });
  /** Mostly a well-formed value, sometimes anything JSON can hold: most frames get past validation. */
  const mostly = <T,>(valid: fc.Arbitrary<T>) => fc.oneof({ arbitrary: valid, weight: 12 }, { arbitrary: json, weight: 1 });
  /** Every key present, or (less often) any of them missing. */
  const fields = <T extends Record<string, fc.Arbitrary<unknown>>>(model: T) =>
    fc.oneof({ arbitrary: fc.record(model), weight: 3 }, { arbitrary: fc.record(model, { requiredKeys: [] }), weight: 1 });
  const snowflake = fc.oneof(
    { arbitrary: fc.constantFrom(w.guildId, w.memberId), weight: 4 },
    { arbitrary: fc.bigInt({ min: 0n, max: 2n ** 64n }).map(String), weight: 2 },
    { arbitrary: fc.string({ maxLength: 24 }), weight: 1 },
    { arbitrary: json, weight: 1 },
  );
  const anyOp = fc.oneof(fc.integer({ min: -2, max: 14 }), fc.integer(), fc.double(), fc.string({ maxLength: 4 }), fc.constant(null));
  const presence = fields({
    since: mostly(fc.oneof(fc.constant(null), fc.nat())),
    activities: mostly(fc.array(fc.record({ name: fc.string({ maxLength: 140 }), type: fc.integer({ min: -1, max: 7 }) }), { maxLength: 3 })),
    status: mostly(fc.oneof(fc.constantFrom('online', 'dnd', 'idle', 'invisible', 'offline'), fc.string({ maxLength: 8 }))),
    afk: mostly(fc.boolean()),
  });
  const identify = fc.record(
    {
      token: fc.oneof({ arbitrary: fc.constant(w.token), weight: 4 }, { arbitrary: fc.string({ maxLength: 60 }), weight: 1 }, { arbitrary: json, weight: 1 }),
      intents: fc.oneof(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.constantFrom(0, 513, 2 ** 31, 2 ** 32 + 513, 2 ** 40, 2 ** 53, -1, 1.5), json),
      properties: mostly(fc.constant({ os: 'linux', browser: 'fuzz', device: 'fuzz' })),
      shard: mostly(fc.tuple(fc.integer({ min: -1, max: 4 }), fc.integer({ min: -1, max: 4 }))),
      large_threshold: mostly(fc.integer({ min: 0, max: 300 })),
      presence,
      compress: mostly(fc.boolean()),
    },
    { requiredKeys: ['token', 'intents', 'properties'] },
  );
  const resume = fields({ token: mostly(fc.constant(w.token)), session_id: mostly(fc.string({ maxLength: 40 })), seq: mostly(fc.integer({ min: -1, max: 100 })) });
  const requestMembersAny = fc.record(
    {
      guild_id: snowflake,
      query: mostly(fc.oneof(fc.constantFrom('', 'a', 'B', 'car'), fc.string({ maxLength: 8 }), fc.string({ minLength: 90, maxLength: 120 }))),
      limit: mostly(fc.integer({ min: -1, max: 120 })),
      user_ids: mostly(fc.oneof(snowflake, fc.array(snowflake, { maxLength: 110 }))),
      presences: mostly(fc.boolean()),
      nonce: mostly(fc.string({ maxLength: 40 })),
    },
    { requiredKeys: ['guild_id'] },
  );
  // Discord wants exactly one of query and user_ids: most requests say one, the rest anything.
  const requestMembers = fc.oneof(
    fields({ guild_id: snowflake, query: mostly(fc.constantFrom('', 'a', 'B', 'car', 'zz')), limit: mostly(fc.integer({ min: 0, max: 100 })), presences: mostly(fc.boolean()), nonce: mostly(fc.string({ maxLength: 40 })) }),
    fields({ guild_id: snowflake, user_ids: mostly(fc.oneof(snowflake, fc.array(snowflake, { maxLength: 100 }))), presences: mostly(fc.boolean()), nonce: mostly(fc.string({ maxLength: 40 })) }),
    requestMembersAny,
  );
  const voice = fields({ guild_id: snowflake, channel_id: fc.oneof(fc.constant(null), snowflake), self_mute: mostly(fc.boolean()), self_deaf: mostly(fc.boolean()) });
  const shaped = fc.oneof(
    fc.record({ op: fc.constant(GatewayOp.HEARTBEAT), d: mostly(fc.oneof(fc.constant(null), fc.integer({ min: -1, max: 1000 }))) }),
    fc.record({ op: fc.constant(GatewayOp.IDENTIFY), d: identify }),
    fc.record({ op: fc.constant(GatewayOp.PRESENCE_UPDATE), d: presence }),
    fc.record({ op: fc.constant(GatewayOp.VOICE_STATE_UPDATE), d: voice }),
    fc.record({ op: fc.constant(GatewayOp.RESUME), d: resume }),
    { arbitrary: fc.record({ op: fc.constant(GatewayOp.REQUEST_GUILD_MEMBERS), d: requestMembers }), weight: 3 },
  );
  const outer = fc.record({ op: anyOp, d: json, s: fc.oneof(fc.constant(null), json), t: fc.oneof(fc.constant(null), json) }, { requiredKeys: [] });
  const utf8 = (s: string) => new TextEncoder().encode(s);
  return fc.oneof(
    { arbitrary: shaped.map(text), weight: 12 },
    { arbitrary: outer.map(text), weight: 3 },
    { arbitrary: json.map(text), weight: 1 },
    // Mostly not JSON at all.
    { arbitrary: fc.string({ maxLength: 200 }).map((s): Frame => ({ kind: 'text', text: s })), weight: 2 },
    // Deep nesting, inside and outside the size limit.
    { arbitrary: fc.integer({ min: 1, max: 5000 }).map((n): Frame => ({ kind: 'text', text: `{"op":1,"d":${'['.repeat(n)}${']'.repeat(n)}}` })), weight: 1 },
    // Binary frames: random bytes, or a valid frame sent as binary.
    { arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes): Frame => ({ kind: 'bytes', bytes, binary: true })), weight: 1 },
    { arbitrary: shaped.map((f): Frame => ({ kind: 'bytes', bytes: utf8(JSON.stringify(f)), binary: true })), weight: 1 },
    // Text frames that are not UTF-8: a valid frame with a broken byte sequence spliced in.
    {
      arbitrary: fc.tuple(shaped, fc.constantFrom([0x80], [0xc3, 0x28], [0xe2, 0x82], [0xff], [0xed, 0xa0, 0x80])).map(([f, bad]): Frame => {
        const s = JSON.stringify({ ...f, t: 'x' });
        const at = s.lastIndexOf('x');
        return { kind: 'bytes', bytes: Buffer.concat([utf8(s.slice(0, at)), Buffer.from(bad), utf8(s.slice(at + 1))]), binary: false };
      }),
      weight: 1,
    },
    // Sizes around and far past both limits (4096 bytes for a payload, 64 KiB for a WebSocket message).
    { arbitrary: fc.oneof(fc.integer({ min: 4000, max: 4200 }), fc.integer({ min: 60_000, max: 70_000 }), fc.integer({ min: 70_000, max: 400_000 })).map((n): Frame => text({ op: 1, d: null, t: 'x'.repeat(n) })), weight: 1 },
  );
}

function send(c: GatewayClient, f: Frame): void {
  if (c.ws.readyState !== c.ws.OPEN) return;
  if (f.kind === 'text') c.ws.send(f.text);
  else c.ws.send(f.bytes, { binary: f.binary });
}

// --- the run -----------------------------------------------------------------

let t: TestServer;
let clock: ManualClock;
let world: World;
/** Close codes clients saw, for the report. */
const seen = new Map<number | string, number>();

async function connect(): Promise<GatewayClient> {
  const c = await GatewayClient.connect(t.url);
  await c.waitFor((r) => r.find((p) => p.op === GatewayOp.HELLO), ANSWER_TIMEOUT_MS);
  return c;
}

/** One connection: maybe IDENTIFY first, send the frames, then a heartbeat; wait for its ACK or a close. */
async function exercise(identified: boolean, sent: Frame[]): Promise<void> {
  // A fresh identify window per run: the limit is tested elsewhere, here it would only refuse.
  clock.advance(IDENTIFY_WINDOW_MS);
  const c = await connect();
  try {
    if (identified) {
      c.identify(world.token);
      await c.waitForDispatch('GUILD_CREATE', 1, ANSWER_TIMEOUT_MS);
    }
    for (const f of sent) send(c, f);
    const acks = c.received.filter((p) => p.op === GatewayOp.HEARTBEAT_ACK).length;
    send(c, text({ op: GatewayOp.HEARTBEAT, d: null }));
    await c
      .waitFor((r) => r.filter((p) => p.op === GatewayOp.HEARTBEAT_ACK).length > acks, ANSWER_TIMEOUT_MS)
      .catch((err: unknown) => {
        if (c.closeCode === undefined) throw err; // neither answered nor closed
      });
    if (c.closeCode !== undefined) {
      seen.set(c.closeCode, (seen.get(c.closeCode) ?? 0) + 1);
      if (!ALLOWED.has(c.closeCode)) throw new Error(`closed with ${c.closeCode} (${c.closeReason})`);
    } else {
      seen.set('open', (seen.get('open') ?? 0) + 1);
    }
  } finally {
    if (c.closeCode === undefined) c.close(1000);
    await c.waitForClose(ANSWER_TIMEOUT_MS).catch(() => c.ws.terminate());
  }
  // And the server has let go of the socket.
  await until(() => t.server.gateway.connections === 0, 'the server to drop the connection', ANSWER_TIMEOUT_MS);
}

async function freshReady(): Promise<void> {
  clock.advance(IDENTIFY_WINDOW_MS);
  const c = await connect();
  c.identify(world.token);
  await c.waitForDispatch('GUILD_CREATE', 1, ANSWER_TIMEOUT_MS);
  c.close(1000);
  await c.waitForClose();
}

/** Nothing of the runs is left: sockets, sessions (a detached one expires with the resume timeout), actors. */
async function leftBehind(actors: number): Promise<void> {
  const state = () => ({ connections: t.server.gateway.connections, sessions: t.server.ctx.sessions.size, actors: t.server.ctx.system.size });
  await until(() => {
    // Time moves on each look: a session detached after the last move still expires.
    clock.advance(t.server.ctx.config.resumeTimeoutMs);
    const now = state();
    return now.connections === 0 && now.sessions === 0 && now.actors === actors;
  }, `connections, sessions and actors to go (${actors} actors before; ${JSON.stringify(state())})`);
}

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

beforeAll(async () => {
  clock = new ManualClock();
  t = await startTestServer({}, {}, { clock });
  const alice = await t.user('alice');
  const members = [];
  for (const name of ['albert', 'bob', 'carol', 'dave']) members.push((await t.user(name)).id);
  const g = await t.guild(alice.id, members);
  world = { token: alice.token, guildId: g.id, memberId: members[0]! };
});

afterAll(async () => {
  await t?.close();
});

describe('gateway fuzzing', () => {
  it(`random frames get a documented close or a normal answer; the server stays healthy and its memory comes back (${RUNS} runs)`, async () => {
    console.info(`gateway fuzz: seed ${SEED}, ${RUNS} runs (replay with GUILDHALL_FUZZ_SEED=${SEED} GUILDHALL_FUZZ_RUNS=${RUNS})`);
    // Warm up (the guild actor, JIT, pools), then take the baseline.
    await freshReady();
    await exercise(false, [text({ op: 1, d: null })]);
    const actors = t.server.ctx.system.size;
    await leftBehind(actors);
    const baseline = heapAfterGc();

    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.array(frames(world), { minLength: 1, maxLength: 3 }), async (identified, sent) => {
        await exercise(identified, sent);
      }),
      { seed: SEED, numRuns: RUNS },
    );

    const serverCloses = Object.keys(t.server.gateway.stats().closes).map(Number);
    expect(serverCloses.filter((code) => !ALLOWED.has(code))).toEqual([]);
    await leftBehind(actors);
    await freshReady();
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    await leftBehind(actors);
    const grown = heapAfterGc() - baseline;
    console.info(`gateway fuzz: outcomes ${JSON.stringify(Object.fromEntries(seen))}; heap ${(grown / 1024 / 1024).toFixed(1)} MiB over baseline`);
    expect(grown).toBeLessThan(HEAP_BOUND_BYTES);
  }, 30_000 + RUNS * 100);
});
