import { afterEach, describe, expect, it } from 'vitest';
import { ActorSystem, type Behaviour, Envelope, type Interceptor, ManualClock } from '../../actors/index.js';
import { settle } from '../support/actors.js';

const systems: ActorSystem[] = [];
afterEach(() => {
  for (const s of systems.splice(0)) s.shutdown();
});

type P = { cast: string };

function recorder(received: string[]): Behaviour<null, P> {
  return { kind: 'rec', init: () => null, handleCast: (msg) => void received.push(msg) };
}

/** An interceptor that logs what it is called with and tags what it hands on. */
function tagging(name: string, calls: string[], inboundBare?: boolean): Interceptor & { inboundBare?: boolean } {
  return {
    inboundBare,
    inbound(entry, actor, payload, next, handle) {
      const message = payload instanceof Envelope ? (payload.message as string) : (payload as string);
      calls.push(`${name}:${payload instanceof Envelope ? 'envelope' : 'bare'}:${message}`);
      return next(entry, actor, payload instanceof Envelope ? new Envelope(`${message}+${name}`, payload.carrier) : `${message}+${name}`, handle);
    },
  };
}

describe('Relay: the one relay point', () => {
  it('an interceptor that is only for envelopes is not called for bare payloads, and may change its mind at any time', async () => {
    const system = new ActorSystem();
    systems.push(system);
    const calls: string[] = [];
    const received: string[] = [];
    const only = tagging('t', calls, false);
    system.relay.use(only);
    const ref = system.spawn(recorder(received));
    ref.cast('bare');
    system.deliver(ref.address, 'cast', new Envelope('wrapped'));
    await settle(system);
    only.inboundBare = true;
    ref.cast('bare again');
    await settle(system);
    expect(calls).toEqual(['t:envelope:wrapped', 't:bare:bare again']);
    expect(received).toEqual(['bare', 'wrapped+t', 'bare again+t']);
  });

  it('in a chain, an envelope-only interceptor is passed over for bare payloads and the others still run, in order', async () => {
    const system = new ActorSystem();
    systems.push(system);
    const calls: string[] = [];
    const received: string[] = [];
    system.relay.use(tagging('a', calls));
    system.relay.use(tagging('b', calls, false));
    system.relay.use(tagging('c', calls));
    const ref = system.spawn(recorder(received));
    ref.cast('m');
    system.deliver(ref.address, 'cast', new Envelope('e'));
    await settle(system);
    expect(calls).toEqual(['a:bare:m', 'c:bare:m+a', 'a:envelope:e', 'b:envelope:e+a', 'c:envelope:e+a+b']);
    expect(received).toEqual(['m+a+c', 'e+a+b+c']);
  });

  it('one outbound interceptor or several: each sees what the previous one returned', async () => {
    const system = new ActorSystem();
    systems.push(system);
    const received: string[] = [];
    const ref = system.spawn(recorder(received));
    const removeX = system.relay.use({ outbound: (m) => `${m as string}+x` });
    ref.cast('one');
    system.relay.use({ outbound: (m) => `${m as string}+y` });
    ref.cast('two');
    removeX();
    ref.cast('three');
    await settle(system);
    expect(received).toEqual(['one+x', 'two+x+y', 'three+y']);
  });

  it('a test interceptor sees every broadcast delivery, not only sends: each through its outbound hook, then its inbound hook', async () => {
    const system = new ActorSystem();
    systems.push(system);
    const out: string[] = [];
    const inb: string[] = [];
    const received: string[] = [];
    system.relay.use({
      outbound(message, target, op) {
        out.push(`${op}:${target.id}:${message as string}`);
        return message;
      },
      inbound(entry, actor, payload, next, handle) {
        inb.push(`${entry.op}:${actor.id}:${payload as string}`);
        return next(entry, actor, payload, handle);
      },
    });
    const refs = [system.spawn(recorder(received), { key: 'a' }), system.spawn(recorder(received), { key: 'b' }), system.spawn(recorder(received), { key: 'c' })];
    refs[0]!.cast('one');
    expect(system.broadcast(refs, 'all')).toEqual({ delivered: 3, kept: 0 });
    await settle(system);
    expect(out).toEqual(['cast:a:one', 'cast:a:all', 'cast:b:all', 'cast:c:all']);
    expect(inb.sort()).toEqual(['cast:a:all', 'cast:a:one', 'cast:b:all', 'cast:c:all']);
    expect(received.sort()).toEqual(['all', 'all', 'all', 'one']);
  });

  it('a fanout hook plans each delivery, the other interceptors still see every one, and only one planner may be installed', async () => {
    const system = new ActorSystem();
    systems.push(system);
    const received: string[] = [];
    const observed: string[] = [];
    // Plans: every second delivery gets a marked payload; its own outbound is not used for deliveries.
    system.relay.use({
      outbound: (m) => `${m as string}+sent`,
      fanout(targets, message, op, _options, deliver) {
        let delivered = 0;
        for (let i = 0; i < targets.length; i++) if (deliver(targets[i]!.address, op, i % 2 ? `${message as string}*` : message)) delivered++;
        return { delivered, kept: Math.ceil(targets.length / 2) };
      },
    });
    system.relay.use({ outbound: (m, target) => (observed.push(`${target.id}:${m as string}`), m) });
    expect(() => system.relay.use({ fanout: () => ({ delivered: 0, kept: 0 }) })).toThrow(/already/);
    const refs = ['x', 'y', 'z'].map((key) => system.spawn(recorder(received), { key }));
    expect(system.broadcast(refs, 'b', { op: 'cast' })).toEqual({ delivered: 3, kept: 2 });
    refs[1]!.cast('s');
    await settle(system);
    expect(observed).toEqual(['x:b', 'y:b*', 'z:b', 'y:s+sent']);
    expect(received.sort()).toEqual(['b', 'b', 'b*', 's+sent']);
  });

  it('a broadcast counts only the deliveries a mailbox accepted', async () => {
    const system = new ActorSystem();
    systems.push(system);
    const received: string[] = [];
    const live = system.spawn(recorder(received));
    const gone = system.spawn(recorder(received));
    system.stop(gone);
    expect(system.broadcast([live, gone], 'm')).toEqual({ delivered: 1, kept: 0 });
    await settle(system);
    expect(received).toEqual(['m']);
  });

  it('watchSlow: a message whose wait plus handling reaches the threshold is reported once, with its times; a failing watcher harms no actor', async () => {
    const clock = new ManualClock(0);
    const system = new ActorSystem({ clock });
    systems.push(system);
    const seen: [string, number, number, number][] = [];
    const stop = system.relay.watchSlow(100, {
      slow(entry, _actor, endedAt) {
        seen.push([entry.payload as string, entry.enqueuedAt, entry.dequeuedAt, endedAt]);
        throw new Error('a broken watcher');
      },
    });
    const received: string[] = [];
    const slowHandler: Behaviour<null, P> = {
      kind: 'rec',
      init: () => null,
      handleCast: (msg) => {
        received.push(msg);
        if (msg === 'slow') clock.advance(70);
      },
    };
    const ref = system.spawn(slowHandler);
    await settle(system);
    ref.cast('waited');
    ref.cast('slow');
    clock.advance(40);
    await settle(system);
    // 'waited': 40 ms in the mailbox, quick: not reported. 'slow': 40 ms in the mailbox + 70 ms of handling.
    expect(seen).toEqual([['slow', 0, 40, 110]]);
    ref.cast('after');
    await settle(system);
    expect(received).toEqual(['waited', 'slow', 'after']);
    stop();
    expect(system.relay.slowMs).toBe(Infinity);
  });

  it('a bare message that waited past the threshold reaches an envelopes-only interceptor (it may start a trace)', async () => {
    const clock = new ManualClock(0);
    const system = new ActorSystem({ clock });
    systems.push(system);
    const calls: string[] = [];
    system.relay.use(tagging('t', calls, false));
    system.relay.watchSlow(100, { slow: () => undefined });
    const ref = system.spawn(recorder([]));
    await settle(system);
    ref.cast('quick');
    await settle(system);
    ref.cast('stuck');
    clock.advance(150);
    await settle(system);
    expect(calls).toEqual(['t:bare:stuck']);
  });
});
