// A broadcast arriving from another node is enqueued as the guild's own node
// enqueues one: its deliveries share clock readings for their enqueue time
// (ActorSystem.enqueueTime, SHARE_READING deliveries a reading), rather than
// reading the clock once per target.
import { describe, expect, it } from 'vitest';
import { ActorSystem, type Clock, SHARE_READING, systemClock } from '../../actors/index.js';
import { WIRE_VERSION, encodeValue } from '../../cluster/index.js';
import { InboundFrames, type InboundStats } from '../../cluster/remote-inbound.js';

function frame(header: object, texts: unknown[]): Uint8Array {
  const body = new TextEncoder().encode([JSON.stringify(header), ...texts.map((t) => encodeValue(t))].join('\n'));
  const out = new Uint8Array(body.length + 1);
  out[0] = WIRE_VERSION;
  out.set(body, 1);
  return out;
}

describe('remote inbound: a broadcast from another node', () => {
  it('reads the clock once per SHARE_READING deliveries, as a local broadcast does, and every target gets the message', () => {
    let readings = 0;
    const clock: Clock = { ...systemClock, now: () => (readings++, systemClock.now()) };
    const system = new ActorSystem({ node: 'rx', clock, onError: () => {} });
    const got: unknown[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 64; i++) {
      const ref = system.spawn<null, { cast: unknown }>({ kind: 'w', init: () => null, handleCast: (m) => void got.push(m) }, { key: `s${i}` });
      ids.push(ref.address.id);
    }
    const stats: InboundStats = { framesReceived: 0, bytesReceived: 0, refusedVersion: 0, malformed: 0, unknownLists: 0, listsLost: 0 };
    const inbound = new InboundFrames({ system, stats, listBudget: 1_000, handleItem: () => {}, ask: () => {} });
    const bytes = frame({ f: 'tx', s: 'inc1', i: [{ k: 'b', op: 'cast', t: 0 }], t: [{ d: 1, l: [['w', ids]] }] }, ['hello']);
    readings = 0;
    inbound.onFrame(bytes, undefined);
    // Enqueued synchronously; the actors have not run yet (the scheduler runs on setImmediate).
    expect(readings).toBe(Math.ceil(64 / SHARE_READING));
    expect(stats.malformed).toBe(0);
    return new Promise<void>((resolve) =>
      setTimeout(() => {
        expect(got).toEqual(Array.from({ length: 64 }, () => 'hello'));
        inbound.close();
        system.shutdown();
        resolve();
      }, 50),
    );
  });
});
