// The receiving side of interned target lists over the real NATS server: a
// reference this node does not know is asked for again, and that sender's
// frames wait, in order, for the answer; a list gone at the sender is dropped
// and counted; a sender's new incarnation does not reuse the old one's lists;
// a receiver that restarted is sent the list again. Raw NATS connections play
// a sender ("ghost") where a real router could not be made to misbehave.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type Msg, type NatsConnection, connect } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { ActorSystem } from '../../actors/index.js';
import { type FrameHeader, type FrameItem, NatsRemoteRouter, WIRE_VERSION, encodeValue, subjects } from '../../cluster/index.js';
import { settle } from '../support/actors.js';
import { NATS_URL, uniquePrefix } from '../support/cluster.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function node(name: string, prefix: string): Promise<{ system: ActorSystem; router: NatsRemoteRouter; log: Map<string, unknown[]>; close: () => Promise<void> }> {
  const system = new ActorSystem({ node: name, onError: () => {} });
  const nats = await connect({ servers: NATS_URL });
  const router = await new NatsRemoteRouter({ system, nats, prefix, heartbeatMs: 200, downAfterMs: 1_000 }).start();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await router.close();
    system.shutdown();
    await nats.close();
  };
  cleanups.push(close);
  const log = new Map<string, unknown[]>();
  for (const key of ['r0', 'r1', 'r2']) {
    log.set(key, []);
    system.spawn<null, { cast: unknown }>({ kind: 'w', init: () => null, handleCast: (m) => void log.get(key)!.push(m) }, { key });
  }
  return { system, router, log, close };
}

async function raw(): Promise<NatsConnection> {
  const nc = await connect({ servers: NATS_URL });
  cleanups.push(() => nc.close());
  return nc;
}

/** Every frame sent on `node`'s subject: header and texts. */
async function tap(prefix: string, node: string): Promise<{ header: FrameHeader; texts: string[] }[]> {
  const nc = await raw();
  const seen: { header: FrameHeader; texts: string[] }[] = [];
  nc.subscribe(subjects(prefix).node(node), {
    callback: (_err, msg: Msg) => {
      const [head, ...texts] = new TextDecoder().decode(msg.data.subarray(1)).split('\n');
      seen.push({ header: JSON.parse(head!) as FrameHeader, texts });
    },
  });
  await nc.flush();
  return seen;
}

function frame(header: object, texts: unknown[] = []): Uint8Array {
  const body = new TextEncoder().encode([JSON.stringify(header), ...texts.map((t) => encodeValue(t))].join('\n'));
  const out = new Uint8Array(body.length + 1);
  out[0] = WIRE_VERSION;
  out.set(body, 1);
  return out;
}

async function until(ok: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!ok()) throw new Error(`timed out waiting for ${what}`);
}

const cast = (t: number): FrameItem => ({ k: 'b', op: 'cast', t });

describe('remote router: interned target lists on the receiving side', () => {
  it('an unknown reference is asked for again, and that sender\'s later frames wait for the answer, then arrive in order', async () => {
    const prefix = uniquePrefix('inbound');
    const rx = await node('rx', prefix);
    const ghost = await raw();
    const asks = await tap(prefix, 'ghost');
    const to = subjects(prefix).node('rx');
    const from = { f: 'ghost', s: 'x1' };

    ghost.publish(to, frame({ i: [cast(0)], t: [{ r: 7 }], ...from }, ['m1']));
    ghost.publish(to, frame({ i: [{ k: 'm', op: 'cast', to: ['r0', 'w'] }], ...from }, ['m2']));
    await until(() => asks.length > 0, 'the relist');
    expect(asks[0]!.header.i).toEqual([{ k: 'relist', s: 'x1', r: [7], f: 'rx' }]);
    await ghost.flush();
    await settle(rx.system);
    // m2 names no list but waits behind m1: per-sender order.
    expect(rx.log.get('r0')).toEqual([]);
    expect(rx.router.stats.unknownLists).toBe(1);

    ghost.publish(to, frame({ i: [], t: [{ d: 7, l: [['w', ['r0', 'r1']]] }], ...from, a: 1 }));
    await until(() => rx.log.get('r0')!.length === 2, 'the held frames');
    await settle(rx.system);
    expect(rx.log.get('r0')).toEqual(['m1', 'm2']);
    expect(rx.log.get('r1')).toEqual(['m1']);
    expect(rx.log.get('r2')).toEqual([]);

    // Now held: a reference goes straight through.
    ghost.publish(to, frame({ i: [cast(0)], t: [{ r: 7 }], ...from }, ['m3']));
    await until(() => rx.log.get('r1')!.length === 2, 'm3');
    expect(rx.router.stats.unknownLists).toBe(1);

    // A list the sender no longer has: those deliveries are dropped and counted, what follows arrives.
    ghost.publish(to, frame({ i: [cast(0)], t: [{ r: 8 }], ...from }, ['lost']));
    ghost.publish(to, frame({ i: [{ k: 'm', op: 'cast', to: ['r1', 'w'] }], ...from }, ['m4']));
    await until(() => asks.length > 1, 'the second relist');
    ghost.publish(to, frame({ i: [], t: [{ g: 8 }], ...from, a: 1 }));
    await until(() => rx.log.get('r1')!.length === 3, 'm4');
    await settle(rx.system);
    expect(rx.log.get('r1')).toEqual(['m1', 'm3', 'm4']);
    expect(rx.router.stats.listsLost).toBe(1);
  });

  it("a sender's new incarnation does not name the old one's lists, and drops what waited for the old one", async () => {
    const prefix = uniquePrefix('inbound');
    const rx = await node('rx', prefix);
    const ghost = await raw();
    const asks = await tap(prefix, 'ghost');
    const to = subjects(prefix).node('rx');

    ghost.publish(to, frame({ i: [cast(0)], t: [{ d: 1, l: [['w', ['r0', 'r1']]] }], f: 'ghost', s: 'old' }, ['a']));
    await until(() => rx.log.get('r1')!.length === 1, 'a');
    // Restarted: its id 1 is not the old one's.
    ghost.publish(to, frame({ i: [cast(0)], t: [{ r: 1 }], f: 'ghost', s: 'new' }, ['b']));
    await until(() => asks.length > 0, 'the relist');
    expect(asks[0]!.header.i).toEqual([{ k: 'relist', s: 'new', r: [1], f: 'rx' }]);
    ghost.publish(to, frame({ i: [], t: [{ d: 1, l: [['w', ['r2']]] }], f: 'ghost', s: 'new', a: 1 }));
    await until(() => rx.log.get('r2')!.length === 1, 'b');
    await settle(rx.system);
    expect(rx.log.get('r0')).toEqual(['a']);
    expect(rx.log.get('r2')).toEqual(['b']);

    // Frames that wait for an incarnation that is replaced are dropped, counted.
    ghost.publish(to, frame({ i: [cast(0)], t: [{ r: 5 }], f: 'ghost', s: 'new' }, ['never']));
    await until(() => asks.length > 1, 'the second relist');
    ghost.publish(to, frame({ i: [cast(0)], t: [{ d: 1, l: [['w', ['r0']]] }], f: 'ghost', s: 'third' }, ['c']));
    await until(() => rx.log.get('r0')!.length === 2, 'c');
    await settle(rx.system);
    expect(rx.log.get('r0')).toEqual(['a', 'c']);
    expect(rx.router.stats.listsLost).toBe(1);
  });

  it('a real sender answers a relist with the list (or gone for an id it does not hold or another incarnation), and a restarted receiver is defined the list again', async () => {
    const prefix = uniquePrefix('inbound');
    const tx = await node('tx', prefix);
    let rx = await node('rx', prefix);
    const frames = await tap(prefix, 'rx');
    const all = ['r0', 'r1', 'r2'].map((id) => tx.system.refFor<{ cast: unknown }>({ node: 'rx', id, kind: 'w' }));

    tx.system.broadcast(all, 'one');
    await until(() => rx.log.get('r2')!.length === 1, 'one');
    expect(frames[0]!.header.t).toEqual([{ d: 1, l: [['w', ['r0', 'r1', 'r2']]] }]);
    tx.system.broadcast(all, 'two');
    await until(() => rx.log.get('r2')!.length === 2, 'two');
    expect(frames[1]!.header.t).toEqual([{ r: 1 }]);

    const asker = await raw();
    asker.publish(subjects(prefix).node('tx'), frame({ i: [{ k: 'relist', s: tx.router.incarnation, r: [1, 99], f: 'rx' }], f: 'rx', s: 'whatever' }));
    asker.publish(subjects(prefix).node('tx'), frame({ i: [{ k: 'relist', s: 'not-me', r: [1], f: 'rx' }], f: 'rx', s: 'whatever' }));
    await until(() => frames.filter((f) => f.header.a === 1).length === 2, 'two answers');
    const answers = frames.filter((f) => f.header.a === 1);
    expect(answers.map((f) => f.header.t)).toEqual([[{ d: 1, l: [['w', ['r0', 'r1', 'r2']]] }, { g: 99 }], [{ g: 1 }]]);
    expect(answers[0]!.header.f).toBe('tx');
    expect(tx.router.stats.listsResent).toBe(3);

    // The receiver restarts (goodbye, a new process under the same name): nothing it held survives, and nothing is lost.
    await rx.close();
    rx = await node('rx', prefix);
    await until(() => !tx.router.isDown('rx'), 'rx heard again');
    tx.system.broadcast(all, 'three');
    await until(() => rx.log.get('r2')!.length === 1, 'three');
    await settle(rx.system);
    for (const key of ['r0', 'r1', 'r2']) expect(rx.log.get(key)).toEqual(['three']);
    expect(rx.router.stats.listsLost).toBe(0);
  });

  // The receiver binds a held list to its actors' own addresses (a delivery then skips the registry):
  // that must neither keep a stopped actor alive nor miss one started again under the same key.
  it('a held list keeps no stopped actor alive, and reaches an actor started again under the same key', async () => {
    setFlagsFromString('--expose_gc');
    const gc = runInNewContext('gc') as () => void;
    const prefix = uniquePrefix('inbound');
    const tx = await node('tx', prefix);
    const rx = await node('rx', prefix);
    let state: WeakRef<object> | undefined;
    // In a function, so that no reference to the actor or its state stays on this test's stack.
    (() => {
      const big = { payload: new Array(1000).fill('x') };
      state = new WeakRef(big);
      rx.system.spawn<object, { cast: unknown }>({ kind: 'w', init: () => big, handleCast: () => {} }, { key: 'gone' });
    })();
    const all = ['r0', 'r1', 'gone'].map((id) => tx.system.refFor<{ cast: unknown }>({ node: 'rx', id, kind: 'w' }));
    tx.system.broadcast(all, 'one');
    await until(() => rx.log.get('r1')!.length === 1, 'one');
    await settle(rx.system);

    rx.system.stop(rx.system.refFor({ node: 'rx', id: 'gone', kind: 'w' }));
    rx.system.stop(rx.system.refFor({ node: 'rx', id: 'r1', kind: 'w' }));
    const again: unknown[] = [];
    rx.system.spawn<null, { cast: unknown }>({ kind: 'w', init: () => null, handleCast: (m) => void again.push(m) }, { key: 'r1' });
    await settle(rx.system);
    for (let i = 0; i < 5 && state!.deref() !== undefined; i++) {
      await new Promise((r) => setImmediate(r));
      gc();
    }
    expect(state!.deref()).toBeUndefined();

    tx.system.broadcast(all, 'two');
    await until(() => again.length === 1, 'two');
    await settle(rx.system);
    expect(again).toEqual(['two']);
    expect(rx.log.get('r0')).toEqual(['one', 'two']);
    expect(rx.log.get('r1')).toEqual(['one']);
  });
});
