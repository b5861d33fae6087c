// The pieces of a session's move between nodes (server/gateway/session-handoff.ts):
// session ids naming their node, where a RESUME looks, and the ordering the
// old session (Forwarder) and the new one (Takeover) keep. The end-to-end
// move is in test/server/cluster/resume.test.ts and drain.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import { ActorSystem, type Behaviour } from '../../../actors/index.js';
import { EncodedDispatch } from '../../../server/gateway/dispatch.js';
import { Forwarder, type HeldCast, Takeover, handoffCandidates, isHeld, newSessionId, sessionNodeOf } from '../../../server/gateway/session-handoff.js';
import type { SessionCast, SessionProtocol } from '../../../server/gateway/session-protocol.js';
import { settle } from '../../support/actors.js';

const systems: ActorSystem[] = [];
afterEach(() => {
  for (const s of systems.splice(0)) s.shutdown();
});

/** A session stand-in that records what reaches it, to see what a Forwarder sends. */
function recorder(log: SessionCast[]): Behaviour<null, SessionProtocol> {
  return { kind: 'session', init: () => null, handleCast: (msg) => void log.push(msg) };
}

const dispatch = (n: number): HeldCast => ({ type: 'dispatch', event: new EncodedDispatch('MESSAGE_CREATE', { content: `m${n}` }) });

describe('session ids', () => {
  it('name their node in cluster mode and nothing on a single node', () => {
    const single = newSessionId(undefined);
    expect(single).toMatch(/^[0-9a-f]{32}$/);
    expect(sessionNodeOf(single)).toBeUndefined();
    const clustered = newSessionId('node-1');
    expect(clustered).toMatch(/^[0-9a-f]{32}\.node-1$/);
    expect(sessionNodeOf(clustered)).toBe('node-1');
    expect(sessionNodeOf(`${'a'.repeat(32)}.`)).toBeUndefined();
  });

  it('a RESUME asks the node the id names first, then every other live node, never itself', () => {
    const system = new ActorSystem({ node: 'n2' });
    systems.push(system);
    const id = newSessionId('n1');
    const nodes = (peers: string[]) => handoffCandidates(system, `session:${id}`, id, peers).map((r) => r.address.node);
    expect(nodes(['n1', 'n2', 'n3'])).toEqual(['n1', 'n3']);
    expect(nodes(['n3', 'n2'])).toEqual(['n1', 'n3']);
    expect(handoffCandidates(system, 'session:x', newSessionId(undefined), [])).toEqual([]);
    const refs = handoffCandidates(system, `session:${id}`, id, ['n3']);
    expect(refs.every((r) => r.address.id === `session:${id}` && r.address.kind === 'session')).toBe(true);
  });
});

describe('Forwarder (the old session)', () => {
  it('passes guild casts on in arrival order, markers included, drops the old connection\'s, and is done after the last marker', async () => {
    const system = new ActorSystem({ node: 'n1', onError: () => {} });
    systems.push(system);
    const got: SessionCast[] = [];
    const to = system.spawn(recorder(got));
    const forwarder = new Forwarder(to, ['g1', 'g2']);
    forwarder.forward(dispatch(1));
    forwarder.forward({ type: 'swapped', guildId: 'g1' });
    forwarder.forward({ type: 'presence', data: { since: null, activities: [], status: 'online', afk: false } });
    expect(forwarder.done).toBe(false);
    forwarder.forward({ type: 'guild_removed', guildId: 'g2' });
    forwarder.forward({ type: 'swapped', guildId: 'g2' });
    expect(forwarder.done).toBe(true);
    await settle(system);
    const items = got.map((m) => (m.type === 'forwarded' ? m.item : undefined));
    expect(items.map((i) => i?.kind)).toEqual(['dispatch', 'swapped', 'guild_removed', 'swapped']);
    expect(items[0]!.kind === 'dispatch' && items[0]!.dispatch.head.toString()).toContain('"m1"');
  });
});

describe('Takeover (the new session)', () => {
  it('holds direct guild casts until every guild\'s marker is in, then releases them in arrival order, once', () => {
    const system = new ActorSystem({ node: 'n2' });
    systems.push(system);
    const from = system.refFor<SessionProtocol>({ node: 'n1', id: 'session:x', kind: 'session' });
    const takeover = new Takeover(from, ['g1', 'g2']);
    const held = [dispatch(3), dispatch(4), { type: 'guild_joined', guildId: 'g9' } as HeldCast];
    for (const m of held) {
      expect(isHeld(m)).toBe(true);
      takeover.hold(m);
    }
    expect(takeover.settle('g1')).toBeUndefined();
    expect(takeover.waitingFor).toEqual(['g2']);
    expect(takeover.settle('g2')).toEqual(held);
    expect(takeover.done).toBe(true);
    // A late marker (or a guild given up twice) releases nothing more.
    expect(takeover.settle('g2')).toEqual([]);
  });

  it('holds only what guilds send: a client\'s own ops and the handoff traffic pass', () => {
    expect(isHeld({ type: 'presence', data: { since: null, activities: [], status: 'idle', afk: false } })).toBe(false);
    expect(isHeld({ type: 'swapped', guildId: 'g' })).toBe(false);
    expect(isHeld({ type: 'guild_lost', guildId: 'g', why: 'nodedown' })).toBe(false);
    expect(isHeld({ type: 'guild_removed', guildId: 'g' })).toBe(true);
  });
});
