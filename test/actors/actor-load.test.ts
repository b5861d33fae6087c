import { describe, expect, it } from 'vitest';
import { ActorLoad, ActorSystem, type Behaviour, LOAD_BUCKET_MS, ManualClock } from '../../actors/index.js';
import { settle } from '../support/actors.js';

describe('ActorLoad', () => {
  it('rates over the part of the window the actor has lived, then over the last minute', () => {
    const load = new ActorLoad(0);
    for (let i = 0; i < 100; i++) load.record(i * 100, 0.1);
    // 100 messages in the first 10 s of its life.
    expect(load.snapshot(10_000)).toMatchObject({ handled: 100, perSecond: 10 });
    // Two minutes of 1 message/s later, only the last minute or so counts.
    for (let t = 10_000; t < 130_000; t += 1000) load.record(t, 0.1);
    const later = load.snapshot(130_000);
    expect(later.perSecond).toBeGreaterThan(0.9);
    expect(later.perSecond).toBeLessThan(1.1);
  });

  it('wait p99 is the upper bound of its bin, capped by the longest wait; old waits leave the window', () => {
    const load = new ActorLoad(0);
    for (let i = 0; i < 99; i++) load.record(1000, 0.1);
    // In the (0, 0.25] bin, capped by the longest wait seen.
    expect(load.snapshot(1000).waitP99Ms).toBe(0.1);
    // 2 of 101 above 100 ms: p99 falls in the (64, 256] bin, capped at the longest seen.
    load.record(1000, 120);
    load.record(1000, 180);
    expect(load.snapshot(1000).waitP99Ms).toBe(180);
    // A wait beyond every bin reads as the longest seen.
    for (let i = 0; i < 10; i++) load.record(2000, 9000);
    expect(load.snapshot(2000).waitP99Ms).toBe(9000);
    // A quiet minute and a bucket later, the window is empty again.
    expect(load.snapshot(2000 + 60_000 + LOAD_BUCKET_MS)).toEqual({ handled: 0, perSecond: 0, waitP99Ms: 0, busyMs: 0, busyNow: 0 });
  });

  it('busy is the time spent handling in the window, and leaves with the window', () => {
    const load = new ActorLoad(0);
    for (let t = 1000; t <= 20_000; t += 1000) load.busy(t, 250);
    expect(load.snapshot(20_000).busyMs).toBe(5000);
    expect(load.snapshot(20_000 + 60_000 + LOAD_BUCKET_MS).busyMs).toBe(0);
  });

  it('busy now is the handling time per second of a steady load, whatever part of the second it is read in', () => {
    const load = new ActorLoad(0);
    // 2.5 ms every 10 ms (250 ms a second), read at points spread over a second.
    let t = 5;
    for (const at of [20_003, 20_253, 20_503, 20_993]) {
      for (; t <= at; t += 10) load.busy(t, 2.5);
      expect(Math.abs(load.snapshot(at).busyNow - 250) / 250).toBeLessThan(0.02);
    }
  });

  it('busy now forgets set-up work within seconds, where the minute\'s busy time still holds it', () => {
    const setUp = new ActorLoad(0);
    const hot = new ActorLoad(0);
    setUp.busy(400, 60);
    for (let t = 500; t <= 3_000; t += 50) hot.busy(t, 0.6);
    // 60 ms once against 12 ms a second for 2.5 s: the minute says set-up, "now" says hot.
    expect(setUp.snapshot(3_000).busyMs).toBeGreaterThan(hot.snapshot(3_000).busyMs);
    expect(hot.snapshot(3_000).busyNow).toBeGreaterThan(10);
    // Three halvings (at 1, 2 and 3 s) of the 60 ms.
    expect(setUp.snapshot(3_000).busyNow).toBe(60 / 2 ** 3);
    expect(setUp.snapshot(3_000 + 61 * 1000).busyNow).toBe(0);
  });

  it('busy now carries over into the next time bucket, with or without a message in it', () => {
    const load = new ActorLoad(0);
    load.busy(LOAD_BUCKET_MS - 100, 40);
    // Read just past the bucket's end: one halving (at the bucket's end), 0.1 s into the second.
    expect(load.snapshot(LOAD_BUCKET_MS + 100).busyNow).toBeCloseTo(20 / 1.1, 9);
    // Work in the new bucket adds to what was carried.
    load.busy(LOAD_BUCKET_MS + 200, 10);
    expect(load.snapshot(LOAD_BUCKET_MS + 300).busyNow).toBeCloseTo(30 / 1.3, 9);
    expect(load.snapshot(LOAD_BUCKET_MS + 300).busyMs).toBe(50);
    // A whole bucket without a message, then one: still decayed from the same sum.
    load.record(3 * LOAD_BUCKET_MS + 500, 0.1);
    expect(load.snapshot(3 * LOAD_BUCKET_MS + 500).busyNow).toBeCloseTo(30 / 2 ** 30 / 1.5, 20);
  });
});

describe('ActorSystem.loads: busy', () => {
  it('charges each actor the time its slices took, so one expensive handler outranks many cheap ones', async () => {
    const clock = new ManualClock(0);
    const system = new ActorSystem({ clock, onError: () => {} });
    type P = { cast: number };
    // Each message "costs" what it says, on the injected clock.
    const worker: Behaviour<null, P> = { kind: 'worker', init: () => null, handleCast: (ms) => clock.advance(ms) };
    const heavy = system.spawn(worker, { key: 'heavy' });
    const light = system.spawn(worker, { key: 'light' });
    await settle(system);
    heavy.cast(30);
    for (let i = 0; i < 20; i++) light.cast(0.1);
    await settle(system);
    clock.advance(1000 - 32);
    const rows = Object.fromEntries(system.loads().map((r) => [r.address.id, r]));
    expect(rows.heavy!.busyMs).toBeGreaterThan(rows.light!.busyMs);
    expect(rows.light!.perSecond).toBeGreaterThan(rows.heavy!.perSecond);
    expect(rows.heavy!.busyMs).toBe(30);
    expect(rows.light!.busyMs).toBeCloseTo(2, 5);
    // Read at 1 s, the first halving.
    expect(rows.heavy!.busyNow).toBe(15);
    system.shutdown();
  });
});

describe('ActorSystem.loads', () => {
  it('lists every running actor with depth, oldest waiting message, rate, wait p99 and restarts, by walking the actors', async () => {
    const clock = new ManualClock(0);
    const system = new ActorSystem({ clock, onError: () => {} });
    const gate: { open: () => void } = { open: () => {} };
    type P = { cast: 'block' | 'work' | 'crash' };
    const worker: Behaviour<null, P> = {
      kind: 'worker',
      init: () => null,
      handleCast: (msg) => {
        if (msg === 'crash') throw new Error('boom');
        if (msg === 'block') return new Promise<void>((resolve) => (gate.open = resolve));
        return undefined;
      },
    };
    const busy = system.spawn(worker, { key: 'busy' });
    const idle = system.spawn(worker, { key: 'idle' });
    await settle(system);
    busy.cast('block');
    await settle(system);
    busy.cast('work');
    clock.advance(40);
    busy.cast('work');
    clock.advance(10);
    idle.cast('crash');
    await settle(system);

    const rows = Object.fromEntries(system.loads().map((r) => [r.address.id, r]));
    expect(rows.busy).toMatchObject({ depth: 2, oldestWaitMs: 50, handled: 1, restarts: 0 });
    expect(rows.idle).toMatchObject({ depth: 0, oldestWaitMs: 0, restarts: 1 });
    gate.open();
    await settle(system);
    const after = system.loads().find((r) => r.address.id === 'busy')!;
    expect(after).toMatchObject({ depth: 0, handled: 3 });
    // The first 'work' waited 50 ms, the second 10 ms: both under (16, 64].
    expect(after.waitP99Ms).toBe(50);
    system.shutdown();
  });
});
