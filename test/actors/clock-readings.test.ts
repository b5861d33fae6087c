import { describe, expect, it } from 'vitest';
import { ActorSystem, type Behaviour, ManualClock, SHARE_READING } from '../../actors/index.js';
import { settle } from '../support/actors.js';

/** A manual clock that counts its readings. */
class CountingClock extends ManualClock {
  readings = 0;

  override now(): number {
    this.readings++;
    return super.now();
  }
}

type P = { cast: string };

describe('clock readings per delivery', () => {
  it('a broadcast to N actors handled one message each reads the clock about N times, not 3N, and every wait and busy time stays right', async () => {
    const clock = new CountingClock(0);
    // One drain for the whole broadcast: a slice deadline met on a loaded machine would start a second (one more reading).
    const system = new ActorSystem({ clock, onError: () => {}, scheduler: { sliceMs: 60_000 } });
    const seen: { enqueuedAt: number; dequeuedAt: number }[] = [];
    system.relay.use({
      inbound(entry, actor, payload, next, handle) {
        seen.push({ enqueuedAt: entry.enqueuedAt, dequeuedAt: entry.dequeuedAt });
        return next(entry, actor, payload, handle);
      },
    });
    // Each message takes 1 ms of handling on the injected clock.
    const worker: Behaviour<null, P> = { kind: 'worker', init: () => null, handleCast: () => clock.advance(1) };
    const n = 64;
    const refs = Array.from({ length: n }, () => system.spawn(worker));
    await settle(system);
    clock.advance(5);
    clock.readings = 0;
    system.broadcast(refs, 'go');
    await settle(system);
    // Enqueue: one reading per SHARE_READING deliveries; handling: the first slice's start, then one per slice end.
    expect(clock.readings).toBe(n / SHARE_READING + 1 + n);
    // Every delivery was enqueued at 5; the k-th began when the one before it ended, at 5 + k.
    expect(seen).toEqual(Array.from({ length: n }, (_, k) => ({ enqueuedAt: 5, dequeuedAt: 5 + k })));
    clock.advance(1000 - n - 5);
    for (const row of system.loads()) expect(row.busyMs).toBe(1);
    system.shutdown();
  });

  it('within a broadcast a reading serves at most SHARE_READING deliveries, and a send outside one reads the clock', async () => {
    const clock = new CountingClock(0);
    const system = new ActorSystem({ clock, onError: () => {} });
    const enqueued: number[] = [];
    system.relay.use({
      // Planning each delivery takes 1 ms on the injected clock.
      outbound(message) {
        clock.advance(1);
        return message;
      },
      inbound(entry, actor, payload, next, handle) {
        enqueued.push(entry.enqueuedAt);
        return next(entry, actor, payload, handle);
      },
    });
    const sink: Behaviour<null, P> = { kind: 'sink', init: () => null, handleCast: () => undefined };
    const n = 40;
    const refs = Array.from({ length: n }, () => system.spawn(sink));
    await settle(system);
    system.broadcast(refs, 'go');
    await settle(system);
    // Delivery i is enqueued after i + 1 ms of planning; its reading is at most SHARE_READING - 1 deliveries old.
    expect(enqueued).toEqual(Array.from({ length: n }, (_, i) => Math.floor(i / SHARE_READING) * SHARE_READING + 1));
    enqueued.length = 0;
    refs[0]!.cast('a');
    clock.advance(3);
    refs[0]!.cast('b');
    await settle(system);
    // Each cast's own planning (1 ms) comes before its reading.
    expect(enqueued).toEqual([n + 1, n + 5]);
    system.shutdown();
  });
});
