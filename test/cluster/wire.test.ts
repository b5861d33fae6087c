// What a node does with frames from other versions and other senders, over the
// real NATS server: no envelope, an envelope without (sampled) trace context,
// or a sender with tracing off are all the same bare message; an unknown wire
// version or an unreadable frame is counted and dropped, never a crash; and
// what cannot be serialised is refused at the sender.
import { type NatsConnection, connect, headers } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { ActorErrorCode, ActorSystem, Envelope, isActorError, isEnvelope } from '../../actors/index.js';
import { NatsRemoteRouter, WIRE_VERSION, subjects } from '../../cluster/index.js';
import { settle } from '../support/actors.js';
import { NATS_URL, uniquePrefix } from '../support/cluster.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function node(name: string, prefix: string): Promise<{ system: ActorSystem; router: NatsRemoteRouter; nats: NatsConnection }> {
  const system = new ActorSystem({ node: name, onError: () => {} });
  const nats = await connect({ servers: NATS_URL });
  const router = await new NatsRemoteRouter({ system, nats, prefix, heartbeatMs: 200, downAfterMs: 1_000 }).start();
  cleanups.push(async () => {
    await router.close();
    system.shutdown();
    await nats.close();
  });
  return { system, router, nats };
}

/** A frame of one item and its message text, as the router writes them. */
const frame = (item: object, message: unknown, version = WIRE_VERSION) => new Uint8Array([version, ...new TextEncoder().encode(`${JSON.stringify({ i: [item] })}\n${JSON.stringify(message)}`)]);
/** A frame as wire version 1 wrote it: one JSON text, the message inside. */
const version1 = (json: object) => new Uint8Array([1, ...new TextEncoder().encode(JSON.stringify(json))]);
const SAMPLED = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
const UNSAMPLED = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-00`;

describe('wire compatibility', () => {
  it('bare, carrier-less and unsampled frames arrive alike as bare messages; a sampled one as an envelope; unknown versions and junk are counted, not fatal', async () => {
    const prefix = uniquePrefix('wire');
    const { system, router } = await node('rx', prefix);
    const payloads: unknown[] = [];
    system.relay.use({
      inbound(entry, actor, payload, next, handle) {
        payloads.push(payload);
        return next(entry, actor, payload, handle);
      },
    });
    const got: string[] = [];
    system.spawn<null, { cast: string }>({ kind: 'w', init: () => null, handleCast: (m) => void got.push(m) }, { key: 'w1' });
    const raw = await connect({ servers: NATS_URL });
    cleanups.push(() => raw.close());
    const to = subjects(prefix).node('rx');
    const m = (text: string) => frame({ k: 'm', op: 'cast', to: ['w1', 'w'] }, text);

    raw.publish(to, m('no headers'));
    const noTrace = headers();
    noTrace.set('x-other', '1');
    raw.publish(to, m('headers, no traceparent'), { headers: noTrace });
    const unsampled = headers();
    unsampled.set('traceparent', UNSAMPLED);
    raw.publish(to, m('unsampled'), { headers: unsampled });
    raw.publish(to, frame({ k: 'm', op: 'cast', to: ['w1', 'w'] }, 'from the future', 9));
    raw.publish(to, version1({ k: 'm', op: 'cast', to: ['w1', 'w'], m: 'from the past' }));
    raw.publish(to, new Uint8Array([WIRE_VERSION, 123, 125, 125]));
    // A header promising a message text the frame does not have.
    raw.publish(to, new Uint8Array([WIRE_VERSION, ...new TextEncoder().encode(JSON.stringify({ i: [{ k: 'm', op: 'cast', to: ['w1', 'w'] }] }))]));
    raw.publish(to, new Uint8Array(0));
    const sampled = headers();
    sampled.set('traceparent', SAMPLED);
    sampled.set('tracestate', 'k=v');
    raw.publish(to, frame({ k: 'm', op: 'cast', to: ['w1', 'w'], h: [20, 0.5] }, 'sampled'), { headers: sampled });
    await raw.flush();

    for (let i = 0; i < 200 && got.length < 4; i++) await new Promise((r) => setTimeout(r, 10));
    await settle(system);
    expect(got).toEqual(['no headers', 'headers, no traceparent', 'unsampled', 'sampled']);
    expect(payloads.slice(0, 3)).toEqual(['no headers', 'headers, no traceparent', 'unsampled']);
    const last = payloads[3] as Envelope;
    expect(isEnvelope(last)).toBe(true);
    expect(last.carrier).toEqual({ traceparent: SAMPLED, tracestate: 'k=v' });
    expect(last.hints).toEqual({ fanoutSize: 20, fanoutRate: 0.5 });
    expect(router.stats.refusedVersion).toBe(3);
    expect(router.stats.malformed).toBe(2);
  });

  it('refuses what cannot be serialised at the sender: a cast throws, a call rejects, both with ACTOR_ERR_NOT_SERIALISABLE', async () => {
    const prefix = uniquePrefix('wire');
    const { system } = await node('tx', prefix);
    await node('rx', prefix);
    const remote = system.refFor<{ cast: unknown; call: unknown }>({ node: 'rx', id: 'w1', kind: 'w' });
    let thrown: unknown;
    try {
      remote.cast({ when: new Date() });
    } catch (err) {
      thrown = err;
    }
    expect(isActorError(thrown, ActorErrorCode.NOT_SERIALISABLE)).toBe(true);
    await expect(remote.call({ m: new Map() })).rejects.toMatchObject({ code: ActorErrorCode.NOT_SERIALISABLE });
    // An envelope's message is what crosses; the envelope itself is the relay's.
    expect(() => system.deliver(remote.address, 'cast', new Envelope({ fine: true }))).not.toThrow();
  });
});
