// The remote router's outbox over the real NATS server: what one node sends
// another in one turn leaves as one frame, in order (broadcasts to the same
// targets sharing one target list), traced broadcasts go alone with their
// headers, and the frame bound splits what would pass it. A raw subscriber on
// the receiving node's subject reads the frames as they crossed.
import { type Msg, type NatsConnection, connect } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { type ActorRef, ActorSystem, Envelope, type Interceptor, isEnvelope } from '../../actors/index.js';
import { type FrameHeader, NatsRemoteRouter, WIRE_VERSION, subjects } from '../../cluster/index.js';
import { settle } from '../support/actors.js';
import { NATS_URL, uniquePrefix } from '../support/cluster.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function node(name: string, prefix: string, maxFrameBytes?: number): Promise<{ system: ActorSystem; router: NatsRemoteRouter }> {
  const system = new ActorSystem({ node: name, onError: () => {} });
  const nats = await connect({ servers: NATS_URL });
  const router = await new NatsRemoteRouter({ system, nats, prefix, heartbeatMs: 200, downAfterMs: 1_000, maxFrameBytes }).start();
  cleanups.push(async () => {
    await router.close();
    system.shutdown();
    await nats.close();
  });
  return { system, router };
}

interface Seen {
  header: FrameHeader;
  texts: string[];
  traceparent: string | undefined;
  bytes: number;
}

/** Every frame sent to `to`'s node, decoded as plain JSON. */
async function tap(prefix: string, to: string): Promise<Seen[]> {
  const raw: NatsConnection = await connect({ servers: NATS_URL });
  cleanups.push(() => raw.close());
  const seen: Seen[] = [];
  raw.subscribe(subjects(prefix).node(to), {
    callback: (_err, msg: Msg) => {
      expect(msg.data[0]).toBe(WIRE_VERSION);
      const [head, ...texts] = new TextDecoder().decode(msg.data.subarray(1)).split('\n');
      seen.push({ header: JSON.parse(head!) as FrameHeader, texts, traceparent: msg.headers?.get('traceparent') || undefined, bytes: msg.data.length - 1 });
    },
  });
  await raw.flush();
  return seen;
}

type Log = Map<string, unknown[]>;

/** Actors `keys` of kind `kind` on `system`, each logging what it handles; `echo` answers calls. */
function spawnLoggers(system: ActorSystem, keys: string[], log: Log, kind = 'w'): void {
  for (const key of keys) {
    log.set(key, []);
    system.spawn<null, { cast: unknown; call: unknown; reply: unknown }>(
      {
        kind,
        init: () => null,
        handleCast: (m) => void log.get(key)!.push(m),
        handleCall: (m) => {
          log.get(key)!.push(m);
          return { echo: m };
        },
      },
      { key },
    );
  }
}

/** A sending node and a receiving one on a prefix of their own, the frames that reach the receiver, and `n` loggers there. */
async function pair(n: number, maxFrameBytes?: number) {
  const prefix = uniquePrefix('outbox');
  const { system: tx, router } = await node('tx', prefix, maxFrameBytes);
  const { system: rx } = await node('rx', prefix);
  const frames = await tap(prefix, 'rx');
  const keys = Array.from({ length: n }, (_, i) => `r${i}`);
  const log: Log = new Map();
  return { tx, router, rx, frames, keys, log };
}

async function until(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
}

const SAMPLED = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;

describe('remote router outbox', () => {
  it('one frame per turn: broadcasts, a cast and a call to one node keep their order, and identical target lists go once', async () => {
    const { tx, rx, frames, keys, log } = await pair(10);
    spawnLoggers(rx, keys, log);
    const ref = (key: string) => tx.refFor<{ cast: unknown; call: unknown; reply: unknown }>({ node: 'rx', id: key, kind: 'w' });
    const all = keys.map(ref);
    const half = keys.slice(0, 5).map(ref);

    tx.broadcast(all, 'b1');
    tx.broadcast(all, 'b2');
    ref('r3').cast('c1');
    const answer = ref('r7').call('q1');
    tx.broadcast(all, 'b3');
    tx.broadcast(half, 'b4');
    tx.broadcast(all, { n: 5, ref: all[0] });

    expect(await answer).toEqual({ echo: 'q1' });
    await until(() => log.get('r9')!.length === 4 && log.get('r0')!.length === 5);
    await settle(rx);
    const b5 = (m: unknown) => (m as { n: number }).n === 5;
    expect(log.get('r3')!.slice(0, 5)).toEqual(['b1', 'b2', 'c1', 'b3', 'b4']);
    expect(log.get('r7')!.slice(0, 4)).toEqual(['b1', 'b2', 'q1', 'b3']);
    expect(log.get('r9')!.slice(0, 3)).toEqual(['b1', 'b2', 'b3']);
    for (const key of keys) expect(b5(log.get(key)!.at(-1))).toBe(true);
    // A ref inside a merged message is still a ref on the receiving node.
    expect((log.get('r0')!.at(-1) as { ref: ActorRef }).ref.address).toEqual({ node: 'rx', id: 'r0', kind: 'w' });

    expect(frames).toHaveLength(1);
    const [frame] = frames;
    expect(frame!.header.i.map((i) => i.k)).toEqual(['b', 'b', 'm', 'm', 'b', 'b', 'b']);
    expect(frame!.header.i.flatMap((i) => (i.k === 'b' ? [i.t] : []))).toEqual([0, 0, 0, 1, 0]);
    // Each list is defined once (first sent to this node) and named by index in the frame.
    expect(frame!.header.t).toEqual([
      { d: 1, l: [['w', keys]] },
      { d: 2, l: [['w', keys.slice(0, 5)]] },
    ]);
    expect(frame!.header.f).toBe('tx');
    expect(frame!.texts).toHaveLength(7);
  });

  it('a traced broadcast leaves alone with its headers, between the frames of what came before and after; kept indices reach the right targets', async () => {
    // Two kinds, interleaved: the target list is several runs, and kept indices count across them.
    const { tx, rx, frames, keys, log } = await pair(10);
    spawnLoggers(rx, keys.filter((_, i) => i % 2 === 0), log, 'even');
    spawnLoggers(rx, keys.filter((_, i) => i % 2 === 1), log, 'odd');
    const enveloped = new Set<string>();
    rx.relay.use({
      inbound(entry, actor, payload, next, handle) {
        if (isEnvelope(payload)) enveloped.add(`${actor.id}:${String(payload.message)}`);
        return next(entry, actor, payload, handle);
      },
    });
    // A stand-in for the Transport: keeps targets 2 and 7 of a broadcast of "traced", under one trace context.
    const carrier = { traceparent: SAMPLED };
    const keeper: Interceptor = {
      fanout(targets, message, op, _options, deliver) {
        let kept = 0;
        targets.forEach((t, i) => {
          const keep = message === 'traced' && (i === 2 || i === 7);
          if (keep) kept++;
          deliver(t.address, op, keep ? new Envelope(message, carrier, { fanoutSize: 10, fanoutRate: 0.2 }) : message);
        });
        return { delivered: targets.length, kept };
      },
    };
    tx.relay.use(keeper);
    const all = keys.map((key, i) => tx.refFor<{ cast: unknown }>({ node: 'rx', id: key, kind: i % 2 === 0 ? 'even' : 'odd' }));

    tx.broadcast(all, 'before1');
    tx.broadcast(all, 'before2');
    tx.broadcast(all, 'traced');
    tx.broadcast(all, 'after');
    await until(() => [...log.values()].every((l) => l.length === 4));
    await settle(rx);

    for (const key of keys) expect(log.get(key)).toEqual(['before1', 'before2', 'traced', 'after']);
    expect([...enveloped].sort()).toEqual(['r2:traced', 'r7:traced']);
    expect(frames.map((f) => f.header.i.length)).toEqual([2, 1, 1]);
    expect(frames.map((f) => f.traceparent)).toEqual([undefined, SAMPLED, undefined]);
    expect(frames[1]!.header.i[0]).toEqual({ k: 'b', op: 'cast', t: 0, kept: [2, 7], h: [10, 0.2] });
    // A traced frame carries its list whole, not interned; the frames around it name the list defined before.
    expect((frames[1]!.header.t![0] as { l: unknown[] }).l).toHaveLength(10);
    expect(frames[0]!.header.t).toEqual([{ d: 1, l: expect.any(Array) as unknown }]);
    expect(frames[2]!.header.t).toEqual([{ r: 1 }]);
  });

  it('the frame bound splits a frame, and a target list past half of it, and every target still gets every message in order', async () => {
    const prefix = uniquePrefix('outbox');
    const maxFrameBytes = 4_000;
    const { system: tx, router } = await node('tx', prefix, maxFrameBytes);
    const { system: rx } = await node('rx', prefix);
    const frames = await tap(prefix, 'rx');
    // 150 targets of 12-character ids: about 2,250 characters of list, past half the bound, so each broadcast's list is split in two.
    const keys = Array.from({ length: 150 }, (_, i) => `target-${String(i).padStart(5, '0')}`);
    const log: Log = new Map();
    spawnLoggers(rx, keys, log);
    const all = keys.map((key) => tx.refFor<{ cast: unknown }>({ node: 'rx', id: key, kind: 'w' }));
    const messages = Array.from({ length: 12 }, (_, i) => `m${i} ${'x'.repeat(150)}`);

    for (const m of messages) tx.broadcast(all, m);
    await until(() => [...log.values()].every((l) => l.length === messages.length));
    await settle(rx);

    for (const key of keys) expect(log.get(key)).toEqual(messages);
    expect(router.stats.batchesSent).toBe(2 * messages.length);
    expect(frames.length).toBeGreaterThan(1);
    for (const f of frames) expect(f.bytes).toBeLessThanOrEqual(maxFrameBytes);
    // Each frame carries each half of the list once, however many broadcasts share it.
    for (const f of frames) expect(f.header.t!.length).toBeLessThanOrEqual(2);
    expect(frames.reduce((n, f) => n + f.header.i.length, 0)).toBe(2 * messages.length);
    // And defines each half once in all: later frames name them.
    expect(frames.flatMap((f) => f.header.t!).filter((spec) => 'd' in spec)).toHaveLength(2);
    expect(Math.max(...frames.map((f) => f.header.i.length))).toBeGreaterThan(2);
  });
});
