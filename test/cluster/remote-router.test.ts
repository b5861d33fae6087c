// Actors across processes: two and three ActorSystems, each in its own child
// process (test/support/cluster-node.ts), joined through the local NATS
// server under a subject prefix of this run's own.
//
// Stated bound: a node is declared down when unheard for downAfterMs, checked
// every heartbeatMs, so monitors fire and calls reject within
// downAfterMs + heartbeatMs of its last heartbeat: 1,200 ms with the settings
// here (200 / 1,000 ms; production defaults 1,000 / 3,000 ms: 4 s).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type NodeProcess, startNode, stopNodes, uniquePrefix } from '../support/cluster.js';
import { type ReceivedSpan, startOtlpReceiver } from '../support/otlp-receiver.js';

const HEARTBEAT_MS = 200;
const DOWN_AFTER_MS = 1_000;
const BOUND_MS = DOWN_AFTER_MS + HEARTBEAT_MS;

// Each node is a fresh Node.js process compiling TypeScript: seconds apiece on a busy two-core machine.
vi.setConfig({ testTimeout: 90_000, hookTimeout: 30_000 });

const started: NodeProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await stopNodes(started.splice(0));
  for (const c of cleanups.splice(0)) await c();
});

async function cluster(names: string[], otlpUrl?: string): Promise<NodeProcess[]> {
  const prefix = uniquePrefix('remote');
  const nodes = await Promise.all(names.map((n) => startNode(n, { prefix, heartbeatMs: HEARTBEAT_MS, downAfterMs: DOWN_AFTER_MS, otlpUrl })));
  started.push(...nodes);
  return nodes;
}

async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

type Received = { id: string; text: string; traceId?: string; sampled: boolean }[];

describe('NatsRemoteRouter across processes', () => {
  it('two processes: send and cast arrive, call answers, and timeouts, stopped actors and crashes reject with their codes', async () => {
    const [a, b] = await cluster(['a', 'b']);
    await b!.request('spawn', { keys: ['b1'] });
    await a!.request('spawn', { keys: ['a1'] });

    expect(await a!.request('cast', { to: b!.addr('b1'), msg: { type: 'hello', text: 'over nats' } })).toBe(true);
    const got = await eventually(() => b!.request<Received>('received'), (r) => r.length === 1);
    expect(got).toEqual([{ id: 'b1', text: 'over nats', sampled: false }]);

    expect(await a!.request('call', { to: b!.addr('b1'), msg: { type: 'echo', v: { n: 1, list: [1, 'two', null], nested: { ok: true } } } })).toEqual({
      n: 1,
      list: [1, 'two', null],
      nested: { ok: true },
    });
    // A reply that takes longer than the caller's timeout: the same ACTOR_ERR_CALL_TIMEOUT as locally.
    const t0 = Date.now();
    expect(await a!.attempt('call', { to: b!.addr('b1'), msg: { type: 'sleep', ms: 1_500 }, timeoutMs: 150 })).toMatchObject({ ok: false, code: 'ACTOR_ERR_CALL_TIMEOUT' });
    expect(Date.now() - t0).toBeLessThan(1_500);
    expect(await a!.attempt('call', { to: b!.addr('nobody'), msg: { type: 'echo', v: 1 } })).toMatchObject({ ok: false, code: 'ACTOR_ERR_STOPPED' });
    expect(await a!.attempt('call', { to: b!.addr('b1'), msg: { type: 'crash' } })).toMatchObject({ ok: false, code: 'ACTOR_ERR_CRASHED' });
    // Refs in a message cross as addresses and come back as refs: b1 broadcasts to a1 (on A) and itself.
    expect(await a!.request('call', { to: b!.addr('b1'), msg: { type: 'broadcast', targets: [a!.addr('a1'), b!.addr('b1')], text: 'via refs' } })).toEqual({ delivered: 2, kept: 0 });
    await eventually(() => a!.request<Received>('received'), (r) => r.length === 1);
    expect(await a!.request('received')).toEqual([{ id: 'a1', text: 'via refs', sampled: false }]);
  });

  it('three processes: a broadcast to targets on every node leaves as one NATS message per remote node, and every delivery arrives', async () => {
    const [a, b, c] = await cluster(['a', 'b', 'c']);
    const keys = (p: string) => Array.from({ length: 1_000 }, (_, i) => `${p}${i}`);
    await Promise.all([a!.request('spawn', { keys: keys('a') }), b!.request('spawn', { keys: keys('b') }), c!.request('spawn', { keys: keys('c') })]);
    // Interleaved, as a guild's subscriber list would be.
    const targets = keys('').flatMap((i) => [a!.addr(`a${i}`), b!.addr(`b${i}`), c!.addr(`c${i}`)]);
    const r = await a!.request<{ delivered: number; kept: number; frames: number }>('broadcast', { targets, text: 'count' });
    expect(r).toEqual({ delivered: 3_000, kept: 0, frames: 2 });
    for (const n of [a!, b!, c!]) expect(await eventually(() => n.request<number>('counted'), (x) => x === 1_000)).toBe(1_000);
    // Only local targets: nothing crosses.
    expect(await a!.request('broadcast', { targets: [a!.addr('a1')], text: 'count' })).toEqual({ delivered: 1, kept: 0, frames: 0 });
  });

  it('monitors across processes: a stop fires with its reason, a missing actor is noproc', async () => {
    const [a, b] = await cluster(['a', 'b']);
    await b!.request('spawn', { keys: ['b1'] });
    await a!.request('monitor', { address: b!.addr('b1') });
    await a!.request('monitor', { address: b!.addr('never-spawned') });
    await a!.request('cast', { to: b!.addr('b1'), msg: { type: 'stop' } });
    const downs = await a!.waitForDowns((d) => d.length === 2, 5_000);
    expect(downs.map((d) => [d.address.id, d.reason.type]).sort()).toEqual([
      ['b1', 'normal'],
      ['never-spawned', 'noproc'],
    ]);
  });

  it(`kill -9 of one process: its actors' monitors fire in the others and calls to it reject with ACTOR_ERR_NODE_DOWN within ${BOUND_MS} ms`, async () => {
    const [a, b, c] = await cluster(['a', 'b', 'c']);
    await b!.request('spawn', { keys: ['b1'] });
    await a!.request('monitor', { address: b!.addr('b1') });
    await c!.request('monitor', { address: b!.addr('b1') });
    // A call that B will never answer, with a timeout far beyond the bound.
    const pending = a!.attempt('call', { to: b!.addr('b1'), msg: { type: 'sleep', ms: 60_000 }, timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 100));
    const killedAt = Date.now();
    b!.kill('SIGKILL');
    await b!.exited;

    const outcome = await pending;
    const callRejectedAfter = Date.now() - killedAt;
    expect(outcome).toMatchObject({ ok: false, code: 'ACTOR_ERR_NODE_DOWN' });
    const [downA, downC] = await Promise.all([a!.waitForDowns((d) => d.length === 1, 5_000), c!.waitForDowns((d) => d.length === 1, 5_000)]);
    for (const d of [downA[0]!, downC[0]!]) {
      expect(d.reason).toEqual({ type: 'nodedown', node: 'b' });
      expect(d.at - killedAt).toBeLessThanOrEqual(BOUND_MS + 300);
    }
    expect(callRejectedAfter).toBeLessThanOrEqual(BOUND_MS + 300);
    // Once down, a call to it is refused at once instead of waiting for its timeout.
    const t0 = Date.now();
    expect(await a!.attempt('call', { to: b!.addr('b1'), msg: { type: 'echo', v: 1 }, timeoutMs: 10_000 })).toMatchObject({ ok: false, code: 'ACTOR_ERR_NODE_DOWN' });
    expect(Date.now() - t0).toBeLessThan(1_000);
  });

  it('one trace across processes: a sampled call A -> B that broadcasts to actors on A, B and C is one trace, each span from the process that made it', async () => {
    const receiver = await startOtlpReceiver();
    cleanups.push(() => receiver.close());
    const [a, b, c] = await cluster(['a', 'b', 'c'], receiver.url);
    await Promise.all([a!.request('spawn', { keys: ['a1', 'a2'] }), b!.request('spawn', { keys: ['b1', 'b2'] }), c!.request('spawn', { keys: ['c1', 'c2'] })]);
    const targets = [a!.addr('a1'), a!.addr('a2'), b!.addr('b2'), c!.addr('c1'), c!.addr('c2')];
    // 5 deliveries, K = 10: every one is kept.
    expect(await a!.request('sampledCall', { to: b!.addr('b1'), msg: { type: 'broadcast', targets, text: 'traced' } })).toEqual({ delivered: 5, kept: 5 });
    for (const n of [a!, b!, c!]) await eventually(() => n.request<Received>('received'), (r) => r.length === (n === b ? 1 : 2));
    await Promise.all([a!, b!, c!].map((n) => n.request('flush')));
    const spans = await receiver.waitForSpans((all) => all.filter((s) => s.attributes['guildhall.message.kind'] === 'hello').length === 5, 10_000);

    const traceIds = new Set(spans.map((s) => s.traceId));
    expect(traceIds.size).toBe(1);
    const ids = new Set(spans.map((s) => s.spanId));
    expect(ids.size).toBe(spans.length);
    const roots = spans.filter((s) => s.parentSpanId === '');
    expect(roots.map((s) => [s.name, s.resource['service.instance.id']])).toEqual([['test root', 'a']]);
    for (const s of spans) if (s.parentSpanId !== '') expect(ids.has(s.parentSpanId), `orphan span ${s.name}`).toBe(true);

    const byId = new Map(spans.map((s) => [s.spanId, s] as const));
    const callSpan = spans.find((s) => s.attributes['guildhall.actor.id'] === 'b1') as ReceivedSpan;
    expect(callSpan.resource['service.instance.id']).toBe('b');
    expect(callSpan.parentSpanId).toBe(roots[0]!.spanId);
    const fanout = spans.filter((s) => s.kind === 4);
    expect(fanout).toHaveLength(1);
    expect(fanout[0]!.resource['service.instance.id']).toBe('b');
    expect(fanout[0]!.parentSpanId).toBe(callSpan.spanId);
    const deliveries = spans.filter((s) => s.attributes['guildhall.message.kind'] === 'hello');
    for (const d of deliveries) {
      const id = d.attributes['guildhall.actor.id'] as string;
      expect(d.resource['service.instance.id']).toBe(id[0]);
      expect(byId.get(d.parentSpanId)).toBe(fanout[0]);
      expect(d.attributes['guildhall.fanout.size']).toBe(5);
    }
    expect(deliveries.map((d) => d.attributes['guildhall.actor.id']).sort()).toEqual(['a1', 'a2', 'b2', 'c1', 'c2']);
    const traceId = [...traceIds][0];
    for (const n of [a!, b!, c!]) for (const r of await n.request<Received>('received')) expect(r).toMatchObject({ traceId, sampled: true });

    // Fanout sampling across nodes: 300 deliveries over three nodes keep about K = 10 in
    // total, decided at the sender with the global N, each a child of its broadcast's one
    // fanout span.
    const many = (n: NodeProcess, p: string) => Array.from({ length: 100 }, (_, i) => n.addr(`${p}${i}`));
    await Promise.all([a!.request('spawn', { keys: many(a!, 'x').map((x) => x.id) }), b!.request('spawn', { keys: many(b!, 'y').map((x) => x.id) }), c!.request('spawn', { keys: many(c!, 'z').map((x) => x.id) })]);
    // Each delivery is kept with p = 1/30, so a broadcast keeps none on two given 100-actor
    // nodes with probability (29/30)^200 ~ 0.1 %, and all it keeps lands on one node ~0.3 %
    // of the time. Three broadcasts judged together make that ~1 in 30 million.
    let keptTotal = 0;
    for (let i = 0; i < 3; i++) {
      const big = await a!.request<{ delivered: number; kept: number }>('sampledCall', {
        to: b!.addr('b1'),
        msg: { type: 'broadcast', targets: [...many(a!, 'x'), ...many(b!, 'y'), ...many(c!, 'z')], text: `count ${i}` },
      });
      expect(big.delivered).toBe(300);
      expect(big.kept).toBeGreaterThan(0);
      expect(big.kept).toBeLessThanOrEqual(40);
      keptTotal += big.kept;
    }
    const isBig = (s: ReceivedSpan) => s.kind === 5 && s.attributes['guildhall.fanout.size'] === 300;
    await Promise.all([a!, b!, c!].map((n) => n.request('flush')));
    const all = await receiver.waitForSpans((xs) => xs.filter(isBig).length >= keptTotal, 10_000);
    const kept = all.filter(isBig);
    expect(kept).toHaveLength(keptTotal);
    const bigFanouts = all.filter((s) => s.kind === 4 && s.attributes['guildhall.fanout.size'] === 300);
    expect(bigFanouts).toHaveLength(3);
    expect(new Set(bigFanouts.map((f) => f.traceId)).size).toBe(3);
    for (const d of kept) {
      expect(d.parentSpanId).toBe(bigFanouts.find((f) => f.traceId === d.traceId)?.spanId);
      expect(d.attributes['guildhall.fanout.rate']).toBeCloseTo(10 / 300);
    }
    expect(new Set(kept.map((d) => d.resource['service.instance.id'])).size).toBeGreaterThan(1);
  });
});
