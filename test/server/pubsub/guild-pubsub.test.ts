// Guild pub/sub on the real runtime: subscribers per guild, intent filtering,
// content stripped for sessions without MESSAGE_CONTENT, one observation per
// broadcast, and the user-level bookkeeping the guild's presence relies on.
import { afterEach, describe, expect, it } from 'vitest';
import { ActorSystem, type ActorRef, type Behaviour } from '../../../actors/index.js';
import { GatewayIntentBits } from '../../../server/gateway/protocol.js';
import type { SessionCast, SessionProtocol } from '../../../server/gateway/session-protocol.js';
import { GuildPubSub } from '../../../server/pubsub/guild-pubsub.js';
import { LocalAdapter } from '../../../server/pubsub/pubsub-adapter.js';
import type { ActorSystem as System, BroadcastOptions, BroadcastResult, Protocol } from '../../../actors/index.js';
import { settle } from '../../support/actors.js';

const systems: ActorSystem[] = [];
afterEach(() => {
  for (const s of systems.splice(0)) s.shutdown();
});

/** A stand-in session that records the frames it would write. */
function session(frames: string[]): Behaviour<null, SessionProtocol> {
  return {
    kind: 'session',
    init: () => null,
    handleCast: (msg: SessionCast) => {
      if (msg.type === 'dispatch') frames.push(msg.event.bytesFor(1).toString());
    },
  };
}

/** The real local adapter, remembering each list it was handed (to tell a kept list from a rebuilt one). */
class ListingAdapter extends LocalAdapter {
  readonly lists: (readonly ActorRef<Protocol>[])[] = [];
  constructor(system: Pick<System, 'broadcast'>) {
    super(system);
  }
  override broadcast<P extends Protocol>(subscribers: readonly ActorRef<P>[], message: unknown, options: BroadcastOptions): BroadcastResult {
    this.lists.push(subscribers as readonly ActorRef<Protocol>[]);
    return super.broadcast(subscribers, message, options);
  }
}

function setup() {
  const system = new ActorSystem();
  systems.push(system);
  const observed: [number, number][] = [];
  const adapter = new ListingAdapter(system);
  const pubsub = new GuildPubSub(adapter, { fanout: (size, kept) => void observed.push([size, kept]) });
  const frames: Record<string, string[]> = {};
  const spawn = (name: string): ActorRef<SessionProtocol> => system.spawn(session((frames[name] = [])));
  return { system, pubsub, observed, frames, spawn, adapter };
}

const { GuildMessages, MessageContent, GuildPresences } = GatewayIntentBits;

describe('GuildPubSub', () => {
  it('sends each event to the sessions whose intents want it, without content to those lacking MESSAGE_CONTENT', async () => {
    const { system, pubsub, observed, frames, spawn } = setup();
    const topic = pubsub.topic('g1');
    expect(pubsub.topic('g1')).toBe(topic);
    topic.subscribe('s-full', { ref: spawn('full'), userId: 'u1', intents: GuildMessages | MessageContent });
    topic.subscribe('s-stripped', { ref: spawn('stripped'), userId: 'u2', intents: GuildMessages });
    topic.subscribe('s-presence', { ref: spawn('presence'), userId: 'u3', intents: GuildPresences });
    pubsub.topic('g2').subscribe('s-other', { ref: spawn('other'), userId: 'u1', intents: GuildMessages | MessageContent });

    topic.broadcast('MESSAGE_CREATE', { content: 'hi' }, { content: '' });
    await settle(system);
    expect(frames.full).toEqual(['{"op":0,"t":"MESSAGE_CREATE","d":{"content":"hi"},"s":1}']);
    expect(frames.stripped).toEqual(['{"op":0,"t":"MESSAGE_CREATE","d":{"content":""},"s":1}']);
    expect(frames.presence).toEqual([]);
    expect(frames.other).toEqual([]);
    // One observation per list handed to the adapter, never per recipient.
    expect(observed).toEqual([
      [1, 0],
      [1, 0],
    ]);
  });

  it('knows when a user subscribes their first session and unsubscribes their last', () => {
    const { pubsub, spawn } = setup();
    const topic = pubsub.topic('g');
    expect(topic.subscribe('a', { ref: spawn('a'), userId: 'u', intents: 0 })).toBe(true);
    expect(topic.subscribe('b', { ref: spawn('b'), userId: 'u', intents: 0 })).toBe(false);
    expect(topic.sessionIdsOf('u')).toEqual(['a', 'b']);
    expect(topic.unsubscribe('a')?.lastOfUser).toBe(false);
    expect(topic.hasUser('u')).toBe(true);
    expect(topic.unsubscribe('b')?.lastOfUser).toBe(true);
    expect(topic.hasUser('u')).toBe(false);
    expect(topic.unsubscribe('b')).toBeUndefined();
    expect(topic.size).toBe(0);
  });

  it('keeps its recipient lists between broadcasts and rebuilds them on every subscription change', async () => {
    const { system, pubsub, frames, spawn, adapter } = setup();
    const topic = pubsub.topic('g');
    const content = (n: number) => ({ content: `m${n}` });
    let n = 0;
    const post = async () => {
      n++;
      topic.broadcast('MESSAGE_CREATE', content(n), { content: '' });
      await settle(system);
    };
    const a = spawn('a');
    topic.subscribe('a', { ref: a, userId: 'ua', intents: GuildMessages | MessageContent });
    await post();
    await post();
    // Nothing changed between the two: the same list, not a copy.
    expect(adapter.lists).toHaveLength(2);
    expect(adapter.lists[1]).toBe(adapter.lists[0]);

    // A new subscriber hears the next broadcast.
    topic.subscribe('b', { ref: spawn('b'), userId: 'ub', intents: GuildMessages | MessageContent });
    await post();
    expect(adapter.lists[2]).not.toBe(adapter.lists[1]);
    expect(frames.b).toEqual(['{"op":0,"t":"MESSAGE_CREATE","d":{"content":"m3"},"s":1}']);
    // A list handed out earlier is never changed afterwards.
    expect(adapter.lists[0]).toEqual([a]);

    // An unsubscribed one does not.
    topic.unsubscribe('b');
    await post();
    expect(frames.b).toHaveLength(1);
    expect(frames.a).toHaveLength(4);

    // Subscribing the same session again with other intents moves it to the stripped list.
    topic.subscribe('a', { ref: a, userId: 'ua', intents: GuildMessages });
    await post();
    expect(frames.a?.at(-1)).toBe('{"op":0,"t":"MESSAGE_CREATE","d":{"content":""},"s":1}');

    // An event for another intent has its own list: GUILD_MESSAGES sessions do not get presences.
    topic.broadcast('PRESENCE_UPDATE', { status: 'online' });
    await settle(system);
    expect(frames.a).toHaveLength(5);

    // After clear(), nobody.
    topic.clear();
    const before = adapter.lists.length;
    await post();
    expect(adapter.lists).toHaveLength(before);
    expect(frames.a).toHaveLength(5);
  });
});
