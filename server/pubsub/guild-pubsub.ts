// Guild pub/sub, after Phoenix.PubSub: one topic per guild holding the
// sessions subscribed to it, and a broadcast that encodes an event once,
// filters recipients by their gateway intents and hands the list to the
// adapter. The guild actor decides what happens; this decides who hears it.
// A topic is written only by its guild's actor (one message at a time), so it
// needs no locking.
import type { ActorRef } from '../../actors/index.js';
import { ATTR_GUILD_ID } from '../../tracing/index.js';
import { EncodedDispatch } from '../gateway/dispatch.js';
import type { SessionCast, SessionProtocol } from '../gateway/session-protocol.js';
import type { PubSubAdapter } from './pubsub-adapter.js';
import { RecipientLists } from './recipient-lists.js';

/** Read-only: a topic's recipient lists are built from these and change only with subscribe/unsubscribe. */
export interface Subscriber {
  readonly ref: ActorRef<SessionProtocol>;
  readonly userId: string;
  readonly intents: number;
}

/** Observes every broadcast once (a histogram of sizes), never per recipient. */
export interface FanoutObserver {
  fanout(size: number, kept: number): void;
}

export class GuildTopic {
  /** By session id. */
  private readonly sessions = new Map<string, Subscriber>();
  /** User id -> their subscribed session ids. */
  private readonly byUser = new Map<string, Set<string>>();
  /** Who hears each kind of broadcast; cleared on every subscription change. */
  private readonly recipients = new RecipientLists();
  private readonly subscribers = () => this.sessions.values();

  constructor(
    readonly guildId: string,
    private readonly adapter: PubSubAdapter,
    private readonly observer: FanoutObserver,
  ) {}

  /** Subscribes a session; true when it is its user's first here. */
  subscribe(sessionId: string, subscriber: Subscriber): boolean {
    this.recipients.clear();
    this.sessions.set(sessionId, subscriber);
    let mine = this.byUser.get(subscriber.userId);
    if (!mine) this.byUser.set(subscriber.userId, (mine = new Set()));
    const first = mine.size === 0;
    mine.add(sessionId);
    return first;
  }

  /** Unsubscribes a session; `lastOfUser` when its user has no session here any more. */
  unsubscribe(sessionId: string): { subscriber: Subscriber; lastOfUser: boolean } | undefined {
    const subscriber = this.sessions.get(sessionId);
    if (!subscriber) return undefined;
    this.recipients.clear();
    this.sessions.delete(sessionId);
    const mine = this.byUser.get(subscriber.userId);
    mine?.delete(sessionId);
    const lastOfUser = mine !== undefined && mine.size === 0;
    if (lastOfUser) this.byUser.delete(subscriber.userId);
    return { subscriber, lastOfUser };
  }

  hasUser(userId: string): boolean {
    return this.byUser.has(userId);
  }

  /** The session ids a user has subscribed (a copy: safe to unsubscribe while iterating). */
  sessionIdsOf(userId: string): string[] {
    return [...(this.byUser.get(userId) ?? [])];
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Every subscriber by session id (a cluster handover hands them to the guild's next home). */
  entries(): IterableIterator<[sessionId: string, subscriber: Subscriber]> {
    return this.sessions.entries();
  }

  /** The subscriber of a session, if subscribed. */
  get(sessionId: string): Subscriber | undefined {
    return this.sessions.get(sessionId);
  }

  /** Forgets every subscriber (a restarted guild starts with none, as its sessions reconnect). */
  clear(): void {
    this.recipients.clear();
    this.sessions.clear();
    this.byUser.clear();
  }

  /**
   * Encodes `data` once and sends it to every session whose intents want
   * `event`. With `withoutContent`, sessions without the MESSAGE_CONTENT
   * intent get that instead (messages with empty content, as on Discord).
   */
  broadcast(event: string, data: unknown, withoutContent?: unknown): void {
    const encoded = new EncodedDispatch(event, data);
    const { full, stripped } = this.recipients.get(encoded.intent, withoutContent !== undefined, this.subscribers);
    // A literal, not a spread of shared attributes plus a key: V8 gives each object built that way a hidden class of
    // its own, made in the old generation (~144 B a post that only a mark-compact frees; bench/README.md, "who holds
    // the post-commit continuation's ~230 B/post").
    const options = { attributes: { [ATTR_GUILD_ID]: this.guildId, 'guildhall.event': event } };
    if (full.length > 0) {
      const r = this.adapter.broadcast(full, { type: 'dispatch', event: encoded } satisfies SessionCast, options);
      this.observer.fanout(full.length, r.kept);
    }
    if (stripped.length > 0) {
      const message: SessionCast = { type: 'dispatch', event: new EncodedDispatch(event, withoutContent) };
      const r = this.adapter.broadcast(stripped, message, options);
      this.observer.fanout(stripped.length, r.kept);
    }
  }
}

/** Every guild's topic on this node. */
export class GuildPubSub {
  private readonly topics = new Map<string, GuildTopic>();

  constructor(
    private readonly adapter: PubSubAdapter,
    private readonly observer: FanoutObserver,
  ) {}

  /** Forgets a guild's topic when nobody is subscribed (its actor stopped idle). */
  drop(guildId: string): void {
    if (this.topics.get(guildId)?.size === 0) this.topics.delete(guildId);
  }

  /** The guild's topic, made on first use. */
  topic(guildId: string): GuildTopic {
    let t = this.topics.get(guildId);
    if (!t) this.topics.set(guildId, (t = new GuildTopic(guildId, this.adapter, this.observer)));
    return t;
  }
}
