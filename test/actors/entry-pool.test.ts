// Mailbox entries are used again once handled (actors/entry-pool.ts). These
// check that reuse happens, and that nothing reads an entry after it went
// back: the slice's busy time, the tail check of an async handler, a deferred reply.
import { afterEach, describe, expect, it } from 'vitest';
import { ActorSystem, ManualClock, type MailboxEntry } from '../../actors/index.js';
import { freeEntries } from '../../actors/entry-pool.js';
import { deferred, settle } from '../support/actors.js';

type P = { cast: string; call: { q: string }; reply: string };

const systems: ActorSystem[] = [];
afterEach(() => {
  for (const s of systems.splice(0)) s.shutdown();
});

function setup() {
  const clock = new ManualClock(0);
  // One drain per settle: a slice deadline met on a loaded machine must not split the slices under test.
  const system = new ActorSystem({ clock, onError: () => {}, scheduler: { sliceMs: 60_000 } });
  systems.push(system);
  const entries = new Set<MailboxEntry>();
  const seen: [string, unknown, number, number][] = [];
  system.relay.use({
    inbound(entry, actor, payload, next, handle) {
      entries.add(entry);
      seen.push([actor.kind, payload, entry.enqueuedAt, entry.dequeuedAt]);
      return next(entry, actor, payload, handle);
    },
  });
  return { clock, system, entries, seen };
}

describe('mailbox entries used again', () => {
  it('a later message takes a handled message entry, and a slice busy time does not read it after', async () => {
    const { clock, system, entries, seen } = setup();
    const sink = system.spawn<null, P>({ kind: 'sink', init: () => null, handleCast: () => undefined });
    // Each message takes 1 ms and sends one to the sink: from the second on, the sink's message
    // takes the entry this actor has just finished with (and sets its dequeue time to 0).
    const relay = system.spawn<null, P>({
      kind: 'relay',
      init: () => null,
      handleCast: (msg) => {
        clock.advance(1);
        sink.cast(`via ${msg}`);
      },
    });
    await settle(system);
    clock.advance(10);
    for (const m of ['a', 'b', 'c']) relay.cast(m);
    await settle(system);

    expect(seen).toEqual([
      ['relay', 'a', 10, 10],
      ['relay', 'b', 10, 11],
      ['relay', 'c', 10, 12],
      ['sink', 'via a', 11, 13],
      ['sink', 'via b', 12, 13],
      ['sink', 'via c', 13, 13],
    ]);
    // Six messages, fewer entries: handled ones were used again.
    expect(entries.size).toBeLessThan(6);
    expect(freeEntries()).toBeGreaterThan(0);
    // The relay's one slice ran from 10 to 13 (read from the first message before its entry went back).
    const row = system.loads().find((r) => r.address.kind === 'relay');
    expect(row?.busyMs).toBe(3);
    expect(row?.handled).toBe(3);
  });

  it('an async handler keeps its entry until it settles: the tail check reads that message', async () => {
    const { clock, system } = setup();
    const slow: [unknown, number, number, number][] = [];
    system.relay.watchSlow(5, { slow: (entry, _actor, endedAt) => void slow.push([entry.payload, entry.enqueuedAt, entry.dequeuedAt, endedAt]) });
    const gate = deferred();
    const waiter = system.spawn<null, P>({
      kind: 'waiter',
      init: () => null,
      handleCast: async () => {
        await gate.promise;
      },
    });
    const others = Array.from({ length: 8 }, () => system.spawn<null, P>({ kind: 'other', init: () => null, handleCast: () => undefined }));
    await settle(system);
    waiter.cast('held');
    await settle(system);
    // While it waits, other messages come and go through the free list.
    for (let i = 0; i < 3; i++) {
      system.broadcast(others, `b${i}`);
      await settle(system);
    }
    clock.advance(7);
    gate.resolve();
    await settle(system);
    expect(slow).toEqual([['held', 0, 0, 7]]);
  });

  it('a deferred call is answered after its entry went back', async () => {
    const { system } = setup();
    let answer: ((v: string) => void) | undefined;
    const server = system.spawn<null, P>({
      kind: 'server',
      init: () => null,
      handleCall: (msg, _s, ctx) => {
        const reply = ctx.deferReply();
        answer = (v) => reply.resolve(`${msg.q}:${v}`);
        return undefined as never;
      },
      handleCast: () => undefined,
    });
    await settle(system);
    const pending = server.call({ q: 'first' });
    await settle(system);
    // More messages to the same actor: the call's entry is used for one of them.
    for (const m of ['x', 'y', 'z']) server.cast(m);
    await settle(system);
    answer!('late');
    await expect(pending).resolves.toBe('first:late');
  });
});
