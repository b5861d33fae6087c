import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ActorErrorCode,
  ActorSystem,
  type ActorContext,
  type Behaviour,
  type DownReason,
  Envelope,
  ManualClock,
  isActorError,
} from '../../actors/index.js';
import { deferred, settle } from '../support/actors.js';

type CounterProtocol = {
  call: { type: 'get' } | { type: 'slow'; gate: Promise<void> };
  reply: number;
  cast: { type: 'add'; n: number } | { type: 'boom' };
  info: { type: 'tick' };
};

function counter(log: string[] = []): Behaviour<{ n: number }, CounterProtocol> {
  return {
    kind: 'counter',
    init: () => {
      log.push('init');
      return { n: 0 };
    },
    handleCall: async (msg, state) => {
      if (msg.type === 'slow') await msg.gate;
      return state.n;
    },
    handleCast: (msg, state) => {
      if (msg.type === 'boom') throw new Error('boom');
      state.n += msg.n;
    },
    handleInfo: (_msg, state) => {
      state.n += 100;
    },
  };
}

const systems: ActorSystem[] = [];
function makeSystem(options: ConstructorParameters<typeof ActorSystem>[0] = {}): ActorSystem {
  const s = new ActorSystem({ onError: () => {}, ...options });
  systems.push(s);
  return s;
}
afterEach(() => {
  for (const s of systems.splice(0)) s.shutdown();
});

describe('ActorSystem: send, cast, call', () => {
  it('handles cast, info and call, and accepts enveloped and bare messages alike', async () => {
    const system = makeSystem();
    const ref = system.spawn(counter());
    expect(ref.cast({ type: 'add', n: 2 })).toBe(true);
    expect(ref.send({ type: 'tick' })).toBe(true);
    // An instrumented sender's envelope reaches an uninstrumented system intact.
    system.deliver(ref.address, 'cast', new Envelope({ type: 'add', n: 5 }, { traceparent: '00-' + '1'.repeat(32) + '-' + '2'.repeat(16) + '-01' }));
    expect(await ref.call({ type: 'get' })).toBe(107);
  });

  it('handles one message at a time, in order, even when handlers are async', async () => {
    const system = makeSystem();
    let inFlight = 0;
    let maxInFlight = 0;
    const seen: number[] = [];
    const ref = system.spawn<null, { cast: number; call: 'done'; reply: number[] }>({
      kind: 'ordered',
      init: () => null,
      handleCast: async (n) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        for (let i = 0; i < n % 3; i++) await new Promise((r) => setImmediate(r));
        seen.push(n);
        inFlight--;
      },
      handleCall: () => seen,
    });
    for (let i = 0; i < 200; i++) ref.cast(i);
    expect(await ref.call('done')).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(maxInFlight).toBe(1);
  });

  it('rejects a call that gets no reply in time with CALL_TIMEOUT (injected clock)', async () => {
    const clock = new ManualClock();
    const system = makeSystem({ clock });
    const ref = system.spawn(counter());
    const gate = deferred();
    const pending = ref.call({ type: 'slow', gate: gate.promise }, { timeoutMs: 50 });
    await settle(system);
    clock.advance(49);
    let settled = false;
    pending.then(
      () => (settled = true),
      () => (settled = true),
    );
    await Promise.resolve();
    expect(settled).toBe(false);
    clock.advance(1);
    await expect(pending).rejects.toMatchObject({ code: ActorErrorCode.CALL_TIMEOUT });
    gate.resolve();
    // The actor is unharmed and goes on serving.
    expect(await ref.call({ type: 'get' })).toBe(0);
  });

  it('rejects a call to a stopped actor at once with STOPPED, and cast returns false', async () => {
    const system = makeSystem();
    const ref = system.spawn(counter());
    system.stop(ref);
    expect(ref.cast({ type: 'add', n: 1 })).toBe(false);
    await expect(ref.call({ type: 'get' })).rejects.toMatchObject({ code: ActorErrorCode.STOPPED });
  });

  it('rejects calls still queued when the actor stops', async () => {
    const system = makeSystem();
    const ref = system.spawn(counter());
    const gate = deferred();
    const first = ref.call({ type: 'slow', gate: gate.promise });
    await settle(system);
    const queued = ref.call({ type: 'get' });
    system.stop(ref);
    await expect(queued).rejects.toMatchObject({ code: ActorErrorCode.STOPPED });
    gate.resolve();
    await first.catch(() => {});
  });

  it('rejects a call with NO_HANDLER when the behaviour has none, without crashing', async () => {
    const system = makeSystem();
    const ref = system.spawn<number, { call: 'x'; cast: 'inc' }>({ kind: 'castonly', init: () => 0, handleCast: () => {} });
    await expect(ref.call('x')).rejects.toMatchObject({ code: ActorErrorCode.NO_HANDLER });
    expect(system.inspect(ref)).toMatchObject({ status: 'running', restarts: 0 });
  });
});

describe('ActorSystem: deferred replies', () => {
  type P = { call: { type: 'later'; gate: Promise<number> } | { type: 'now' }; reply: number; cast: { type: 'defer' } };
  function deferring(): Behaviour<{ handled: string[] }, P> {
    return {
      kind: 'deferring',
      init: () => ({ handled: [] }),
      handleCall: (msg, state, ctx) => {
        state.handled.push(msg.type);
        if (msg.type === 'now') return state.handled.length;
        // The gate settles later, outside the actor; the actor moves on meanwhile.
        const reply = ctx.deferReply();
        msg.gate.then((n) => reply.resolve(n), (err: Error) => reply.reject(err));
        return -1; // ignored: the reply was deferred
      },
      handleCast: (_msg, _state, ctx) => {
        ctx.deferReply();
      },
    };
  }

  it('answers a call after the handler returned, while the actor handles later messages', async () => {
    const system = makeSystem();
    const ref = system.spawn(deferring());
    const gate = deferred<number>();
    const later = ref.call({ type: 'later', gate: gate.promise });
    // Handled while the first call still waits for its reply.
    expect(await ref.call({ type: 'now' })).toBe(2);
    let settledEarly = false;
    void later.then(() => (settledEarly = true));
    await settle(system);
    expect(settledEarly).toBe(false);
    gate.resolve(42);
    expect(await later).toBe(42);
  });

  it('a deferred reply can reject, and a caller that waits too long times out as usual', async () => {
    const clock = new ManualClock();
    const system = makeSystem({ clock });
    const ref = system.spawn(deferring());
    let fail!: (err: Error) => void;
    const rejected = ref.call({ type: 'later', gate: new Promise<number>((_resolve, reject) => (fail = reject)) });
    await settle(system);
    fail(new Error('commit failed'));
    await expect(rejected).rejects.toThrow('commit failed');
    const never = ref.call({ type: 'later', gate: new Promise<number>(() => {}) }, { timeoutMs: 50 });
    await settle(system);
    clock.advance(51);
    await expect(never).rejects.toSatisfy((e) => isActorError(e, ActorErrorCode.CALL_TIMEOUT));
  });

  it('deferReply outside a call is a crash of the handler (NOT_IN_CALL), reported and supervised', async () => {
    const errors: unknown[] = [];
    const system = makeSystem({ onError: (e) => errors.push(e) });
    const ref = system.spawn(deferring());
    ref.cast({ type: 'defer' });
    await settle(system);
    expect(errors.some((e) => isActorError(e, ActorErrorCode.NOT_IN_CALL))).toBe(true);
  });
  it('deferReply after a synchronous call handler returned, from outside the actor, throws NOT_IN_CALL', async () => {
    const system = makeSystem();
    let kept: ActorContext<{ call: 'x'; reply: number }> | undefined;
    const ref = system.spawn<null, { call: 'x'; reply: number }>({
      kind: 'keeper',
      init: () => null,
      handleCall: (_msg, _state, ctx) => {
        kept = ctx;
        return 1;
      },
    });
    expect(await ref.call('x')).toBe(1);
    await settle(system);
    expect(() => kept!.deferReply()).toThrow(expect.objectContaining({ code: ActorErrorCode.NOT_IN_CALL }));
  });
});

describe('ActorSystem: registry', () => {
  it('spawnOnce never makes two actors for one key, and whereis finds it', () => {
    const system = makeSystem();
    const log: string[] = [];
    const a = system.spawnOnce('guild:1', counter(log));
    const b = system.spawnOnce('guild:1', counter(log));
    expect(a).toBe(b);
    expect(system.whereis('guild:1')).toBe(a);
    expect(system.size).toBe(1);
    expect(() => system.spawn(counter(), { key: 'guild:1' })).toThrowError(expect.objectContaining({ code: ActorErrorCode.INVALID_SPAWN }));
  });

  it('frees the key when the actor stops', async () => {
    const system = makeSystem();
    const a = system.spawnOnce('guild:2', counter());
    system.stop(a);
    expect(system.whereis('guild:2')).toBeUndefined();
    const b = system.spawnOnce('guild:2', counter());
    expect(b).not.toBe(a);
    expect(await b.call({ type: 'get' })).toBe(0);
  });

  it('a ref to a stopped actor reaches whoever runs under its key now; its address stays plain data', async () => {
    const system = makeSystem({ node: 'n' });
    const old = system.spawn(counter(), { key: 'session:1' });
    expect(old.cast({ type: 'add', n: 1 })).toBe(true);
    system.stop(old);
    // Nobody under the key: refused, as before.
    expect(old.cast({ type: 'add', n: 1 })).toBe(false);
    const next = system.spawn(counter(), { key: 'session:1' });
    expect(old.cast({ type: 'add', n: 5 })).toBe(true);
    expect(await next.call({ type: 'get' })).toBe(5);
    // What the cluster codec and logs see of an address: its three fields, nothing else.
    expect(Object.keys(next.address)).toEqual(['node', 'id', 'kind']);
    expect(JSON.parse(JSON.stringify(next.address))).toEqual({ node: 'n', id: 'session:1', kind: 'counter' });
    expect(structuredClone(next.address)).toEqual({ node: 'n', id: 'session:1', kind: 'counter' });
    // The cell's slot is made with the address (so it lies in the object), then hidden: a copy does not take it along.
    expect(Object.getOwnPropertySymbols({ ...next.address })).toEqual([]);
    const [slot] = Object.getOwnPropertySymbols(next.address);
    expect(Object.getOwnPropertyDescriptor(next.address, slot!)).toMatchObject({ enumerable: false, writable: false, configurable: false });
  });

  it("an address from another system with the same node name is looked up in this system's registry", async () => {
    const first = makeSystem({ node: 'same' });
    const second = makeSystem({ node: 'same' });
    const there = first.spawn(counter(), { key: 'k' });
    const here = second.spawn(counter(), { key: 'k' });
    expect(second.deliver(there.address, 'cast', { type: 'add', n: 3 })).toBe(true);
    expect(await here.call({ type: 'get' })).toBe(3);
    expect(await there.call({ type: 'get' })).toBe(0);
  });

  it("an actor's context names it, and stop() without a reason is a normal stop", async () => {
    const system = makeSystem({ node: 'n' });
    const seen: string[] = [];
    const ref = system.spawn<null, { cast: 'stop' }>(
      {
        kind: 'ctx',
        init: () => null,
        handleCast: (_m, _s, ctx) => {
          seen.push(`${ctx.kind}:${ctx.id} ${ctx.self === ref}`);
          ctx.stop();
        },
      },
      { key: 'c1' },
    );
    const down = new Promise((resolve) => system.monitor(ref, resolve));
    ref.cast('stop');
    expect(await down).toEqual({ type: 'normal' });
    expect(seen).toEqual(['ctx:c1 true']);
  });

  it('ActorContext.waiting counts the messages queued behind the one being handled', async () => {
    const system = makeSystem();
    const seen: number[] = [];
    const ref = system.spawn<null, { cast: number }>({
      kind: 'w',
      init: () => null,
      handleCast: (_n, _s, ctx) => void seen.push(ctx.waiting),
    });
    for (let i = 0; i < 3; i++) ref.cast(i);
    await settle(system);
    expect(seen).toEqual([2, 1, 0]);
  });
});

describe('ActorSystem: supervision', () => {
  it('a throwing handler crashes only its actor; it restarts with backoff and fresh state', async () => {
    const clock = new ManualClock();
    const system = makeSystem({ clock });
    const log: string[] = [];
    const ref = system.spawn(counter(log), { supervision: { backoffMinMs: 10, backoffMaxMs: 100 } });
    const other = system.spawn(counter());
    ref.cast({ type: 'add', n: 5 });
    ref.cast({ type: 'boom' });
    ref.cast({ type: 'add', n: 1 });
    await settle(system);
    expect(system.inspect(ref)?.status).toBe('restarting');
    expect(await other.call({ type: 'get' })).toBe(0);
    clock.advance(9);
    await settle(system);
    expect(log).toEqual(['init']);
    clock.advance(1);
    const value = ref.call({ type: 'get' });
    await settle(system);
    // State was reset by the restart; the message queued behind the crash was kept.
    expect(await value).toBe(1);
    expect(log).toEqual(['init', 'init']);
    expect(system.inspect(ref)?.restarts).toBe(1);
  });

  it('a crash during a call rejects that call with CRASHED', async () => {
    const system = makeSystem();
    const ref = system.spawn<null, { call: 'x' }>({
      kind: 'crashy',
      init: () => null,
      handleCall: () => {
        throw new Error('bad');
      },
    });
    const err = await ref.call('x').catch((e: unknown) => e);
    expect(isActorError(err, ActorErrorCode.CRASHED)).toBe(true);
    expect((err as Error).cause).toBeInstanceOf(Error);
  });

  it('stops after maxRestarts within the window and tells monitors why', async () => {
    const clock = new ManualClock();
    const system = makeSystem({ clock });
    const ref = system.spawn(counter(), { supervision: { maxRestarts: 2, withinMs: 1000, backoffMinMs: 1, backoffMaxMs: 1 } });
    const downs: DownReason[] = [];
    system.monitor(ref, (reason) => downs.push(reason));
    for (let i = 0; i < 3; i++) {
      ref.cast({ type: 'boom' });
      await settle(system);
      clock.advance(1);
      await settle(system);
    }
    expect(system.inspect(ref)).toBeUndefined();
    expect(downs).toHaveLength(1);
    expect(downs[0]?.type).toBe('crash');
  });

  it('strategy stop stops at the first crash; a monitor of a missing actor hears noproc', async () => {
    const system = makeSystem();
    const ref = system.spawn(counter(), { supervision: { strategy: 'stop' } });
    const down = deferred<DownReason>();
    system.monitor(ref, (r) => down.resolve(r));
    ref.cast({ type: 'boom' });
    expect((await down.promise).type).toBe('crash');
    const again = deferred<DownReason>();
    system.monitor(ref, (r) => again.resolve(r));
    expect((await again.promise).type).toBe('noproc');
  });

  it('a crash in async init is supervised like any other', async () => {
    const clock = new ManualClock();
    const system = makeSystem({ clock });
    let attempts = 0;
    const ref = system.spawn<number, { call: 'get'; reply: number }>(
      {
        kind: 'flaky-init',
        init: async () => {
          attempts++;
          if (attempts === 1) throw new Error('first init fails');
          return 42;
        },
        handleCall: (_m, s) => s,
      },
      { supervision: { backoffMinMs: 5 } },
    );
    await settle(system);
    clock.advance(5);
    expect(await ref.call('get')).toBe(42);
    expect(attempts).toBe(2);
  });
});

describe('ActorSystem: bounded mailboxes', () => {
  function gated(system: ActorSystem, overflow: 'reject' | 'drop-oldest' | 'stop') {
    const gate = deferred();
    const handled: number[] = [];
    const ref = system.spawn<null, { cast: number; call: number; reply: number }>(
      {
        kind: 'gated',
        init: () => null,
        handleCast: async (n) => {
          if (n === 0) await gate.promise;
          handled.push(n);
        },
        handleCall: (n) => n,
      },
      { mailbox: { capacity: 3, overflow } },
    );
    return { ref, gate, handled };
  }

  it('reject: refuses the new message, counts it, and rejects a call with MAILBOX_FULL', async () => {
    const system = makeSystem();
    const { ref, gate, handled } = gated(system, 'reject');
    ref.cast(0);
    await settle(system); // 0 is being handled, mailbox empty
    expect([ref.cast(1), ref.cast(2), ref.cast(3)]).toEqual([true, true, true]);
    expect(ref.cast(4)).toBe(false);
    await expect(ref.call(5)).rejects.toMatchObject({ code: ActorErrorCode.MAILBOX_FULL });
    expect(system.inspect(ref)).toMatchObject({ depth: 3, dropped: 2 });
    gate.resolve();
    await settle(system);
    expect(handled).toEqual([0, 1, 2, 3]);
  });

  it('drop-oldest: evicts the oldest waiting message and keeps the newest', async () => {
    const system = makeSystem();
    const { ref, gate, handled } = gated(system, 'drop-oldest');
    ref.cast(0);
    await settle(system);
    for (let i = 1; i <= 5; i++) expect(ref.cast(i)).toBe(true);
    expect(system.inspect(ref)).toMatchObject({ depth: 3, dropped: 2 });
    gate.resolve();
    await settle(system);
    expect(handled).toEqual([0, 3, 4, 5]);
  });

  it('stop: the actor that cannot keep up is stopped with reason overflow', async () => {
    const system = makeSystem();
    const { ref } = gated(system, 'stop');
    const down = deferred<DownReason>();
    system.monitor(ref, (r) => down.resolve(r));
    ref.cast(0);
    await settle(system);
    for (let i = 1; i <= 3; i++) ref.cast(i);
    expect(ref.cast(4)).toBe(false);
    expect((await down.promise).type).toBe('overflow');
  });
});

describe('Scheduler: fairness', () => {
  it('a flood of 100,000 messages into one actor starves neither other actors, nor timers, nor socket reads', async () => {
    const system = makeSystem();
    const total = 100_000;
    let handled = 0;
    let sink = 0;
    const busy = system.spawn<null, { cast: number }>(
      {
        kind: 'busy',
        init: () => null,
        handleCast: (n) => {
          // A little real work per message so the flood takes many time slices.
          for (let i = 0; i < 300; i++) sink += (n * i) % 7;
          handled++;
        },
      },
      { mailbox: { capacity: total } },
    );
    const quiet = system.spawn(counter());

    const server = net.createServer((socket) => socket.pipe(socket));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const client = net.connect(port, '127.0.0.1');
    await new Promise<void>((r) => client.once('connect', () => r()));

    for (let i = 0; i < total; i++) busy.cast(i);
    expect(system.inspect(busy)?.depth).toBe(total);

    const timerSaw = new Promise<number>((r) => setTimeout(() => r(system.inspect(busy)?.depth ?? 0), 1));
    const socketSaw = new Promise<number>((r) => {
      client.once('data', () => r(system.inspect(busy)?.depth ?? 0));
      client.write('ping');
    });
    const quietSaw = quiet.call({ type: 'get' }).then(() => system.inspect(busy)?.depth ?? 0);

    const [atTimer, atSocket, atQuiet] = await Promise.all([timerSaw, socketSaw, quietSaw]);
    // Each was served while the busy actor still had most of its backlog.
    expect(atTimer).toBeGreaterThan(total / 2);
    expect(atSocket).toBeGreaterThan(total / 2);
    expect(atQuiet).toBeGreaterThan(total / 2);

    await settle(system, 100_000);
    expect(handled).toBe(total);
    expect(sink).toBeGreaterThan(0);
    client.destroy();
    server.close();
  });
});

describe('ActorSystem: refFor', () => {
  it('finds a local actor by its address, but an address on another node stays remote even when the same key runs here', () => {
    const system = makeSystem({ node: 'a' });
    const local = system.spawn(counter(), { key: 'session:x' });
    expect(system.refFor({ node: 'a', id: 'session:x', kind: 'counter' })).toBe(local);
    const remote = system.refFor({ node: 'b', id: 'session:x', kind: 'counter' });
    expect(remote).not.toBe(local);
    expect(remote.address.node).toBe('b');
  });
});
