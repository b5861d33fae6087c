// Actor metrics on the real runtime: restarts, stops, drops and depth by
// kind, and metering that hands replies, async results and crashes through
// unchanged. The interceptor under the meter records what it saw.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ActorSystem, type Behaviour, type Interceptor } from '../../../actors/index.js';
import { ActorMetrics } from '../../../server/metrics/actor-metrics.js';
import { settle } from '../../support/actors.js';

type Proto = { call: { type: 'echo'; n: number } | { type: 'slow'; n: number }; cast: { type: 'crash' } | { type: 'noop' } };

const worker: Behaviour<null, Proto> = {
  kind: 'worker',
  init: () => null,
  handleCall(msg) {
    if (msg.type === 'slow') return new Promise((r) => setTimeout(() => r(msg.n * 2), 5));
    return msg.n;
  },
  handleCast(msg) {
    if (msg.type === 'crash') throw new Error('boom');
  },
};

function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('ActorMetrics', () => {
  it('meters beside the next interceptor without changing replies, and counts restarts, stops and drops by kind', async () => {
    const system = new ActorSystem({ onError: () => {} });
    const registry = new Registry();
    const metrics = new ActorMetrics(registry, system);
    const seen: string[] = [];
    const next: Interceptor = {
      outbound: (m) => m,
      inbound: (entry, actor, payload, next, handle) => {
        seen.push(actor.kind);
        return next(entry, actor, payload, handle);
      },
    };
    // Installed first, the meter is the outer hook; the relay composes the two once.
    system.relay.use(metrics);
    system.relay.use(next);
    const ref = system.spawn(worker, { mailbox: { capacity: 40, overflow: 'reject' }, supervision: { backoffMinMs: 0, backoffMaxMs: 0 } });

    expect(await ref.call({ type: 'echo', n: 21 })).toBe(21);
    const replies = await Promise.all(Array.from({ length: 32 }, (_, i) => ref.call({ type: i % 2 ? 'slow' : 'echo', n: i })));
    expect(replies).toEqual(Array.from({ length: 32 }, (_, i) => (i % 2 ? i * 2 : i)));
    ref.cast({ type: 'crash' });
    await settle(system);
    // The mailbox holds 40: a burst of 100 casts loses some to overflow.
    for (let i = 0; i < 100; i++) ref.cast({ type: 'noop' });
    await settle(system);
    system.stop(ref);

    const text = await registry.metrics();
    expect(seen.length).toBe(value(text, 'guildhall_actor_messages_handled_total{kind="worker"}'));
    expect(value(text, 'guildhall_actor_messages_handled_total{kind="worker"}')).toBeGreaterThanOrEqual(34);
    expect(value(text, 'guildhall_actor_handle_seconds_count{kind="worker"}')).toBe(Math.floor(seen.length / 16));
    expect(value(text, 'guildhall_actor_restarts_total{kind="worker"}')).toBe(1);
    expect(value(text, 'guildhall_actor_mailbox_dropped_total{kind="worker"}')).toBeGreaterThan(0);
    expect(value(text, 'guildhall_actor_stops_total{kind="worker",reason="normal"}')).toBe(1);
    expect(value(text, 'guildhall_actors{kind="worker"}')).toBe(0);
  });
});
