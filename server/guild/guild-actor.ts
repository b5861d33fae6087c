// The guild actor: one per guild, spawned on demand through the registry. It
// owns its channels, members and presences, and publishes each event on its
// pub/sub topic (server/pubsub/), which knows who is subscribed and fans out.
// Refusals (not a member, not the author) are replies, never crashes.
//
// Writes are group-committed (server/store/write-batcher.ts): the actor checks
// a write against its state, picks ids and timestamps, hands it to the batcher
// and goes on to its next message without waiting. Its reply and its broadcast
// follow the commit, in the order the writes were made, so no client sees
// anything a crash could take back, and a guild keeps taking messages while a
// batch commits.
import type { ActorContext, ActorRef, Behaviour, DeferredReply } from '../../actors/index.js';
import type { Logger, SessionDirectory } from '../context.js';
import type { SessionProtocol } from '../gateway/session-protocol.js';
import { type SnowflakeGenerator, timestampOf } from '../ids/snowflake.js';
import type { GuildPubSub, Subscriber } from '../pubsub/guild-pubsub.js';
import { JsonText, rememberJson } from '../json-text.js';
import { toAPIChannel, toAPIMember, toAPIMessage, toAPIUser } from '../store/api-shapes.js';
import { StoreError } from '../store/errors.js';
import type { ChannelRecord, GuildWrite, MemberAdded, MemberRecord, MessageRecord, ReactionChange, Store } from '../store/store.js';
import type { WriteBatcher } from '../store/write-batcher.js';
import { guildCreatePayload, presenceData } from './guild-create.js';
import { GUILD_MOVING, type GuildCall, type GuildCast, type GuildHandoff, type GuildProtocol, type GuildRefusal, type GuildReply } from './guild-protocol.js';
import { type GuildState, type Presence, loadGuildState } from './guild-state.js';
import { queryMembers } from './member-query.js';
import { MAX_NONCES_PER_GUILD, NONCE_WINDOW_MS, type NonceRecord, RecentNonces } from './recent-nonces.js';

/** What a guild actor needs from the server: narrow, so it does not depend on all of ServerContext. */
export interface GuildDeps {
  /** Reads (the guild's state at start, a message before an edit). */
  readonly store: Pick<Store, 'getGuild' | 'listChannels' | 'listMembers' | 'getMessage' | 'recentNonces'>;
  /** Where writes go; each settles after its commit. */
  readonly writes: Pick<WriteBatcher, 'submit'>;
  /** Snowflakes for messages and channels (the store's: they never repeat across restarts). */
  readonly ids: Pick<SnowflakeGenerator, 'next'>;
  /** Wall clock, epoch milliseconds. */
  readonly clock: () => number;
  readonly logger: Pick<Logger, 'error'>;
  /** Subscribers and broadcast, per guild. */
  readonly pubsub: Pick<GuildPubSub, 'topic' | 'drop'>;
  readonly config: {
    /** With no session and no write in flight this long, the guild stops (0: never). */
    readonly guildIdleMs: number;
  };
  /** Events aimed at one user (a guild join): their live sessions, on every node in cluster mode. */
  readonly sessions: Pick<SessionDirectory, 'tell'>;
  /** Debug-sampling index: which guild a channel belongs to. */
  readonly debug: { channelCreated(guildId: string, channelId: string): void };
  /**
   * Cluster mode: watches a subscriber on another node (system.monitor), so a
   * session whose node died is dropped; absent on a single node, where every
   * session says `disconnect` itself.
   */
  readonly monitorRemote?: (ref: ActorRef<SessionProtocol>, onDown: () => void) => (() => void) | undefined;
}

/** What a guild starts with besides the store: its previous home's subscribers and presences (cluster handover). */
export interface GuildStart {
  subscribers: [sessionId: string, subscriber: Subscriber][];
  presences: [userId: string, presence: Presence][];
}

/** A refusal the caller turns into a REST error. */
class Refusal extends Error {
  constructor(readonly error: GuildRefusal) {
    super(error);
  }
}

const refuse = (error: GuildRefusal): never => {
  throw new Refusal(error);
};

/** What a handled call answers with: a value now, or later (after a commit). */
const LATER = Symbol('reply after commit');

function memberData(member: MemberRecord | undefined): unknown {
  if (!member) return undefined;
  const { user: _user, ...rest } = toAPIMember(member);
  return rest;
}

/** A member's `member` object in MESSAGE_CREATE, as JSON; member records are replaced, never changed, so it is kept per record. */
const memberJson = new WeakMap<MemberRecord, string>();

function memberDataJson(member: MemberRecord): string {
  let text = memberJson.get(member);
  if (text === undefined) memberJson.set(member, (text = JSON.stringify(memberData(member))));
  return text;
}

/**
 * MESSAGE_CREATE's data from the message's JSON: `{ ...message, nonce?, guild_id, member, mentions: [] }` as
 * JSON.stringify writes it (the message's keys in order, `mentions` already among them, then the added ones).
 */
function messageCreateJson(messageJson: string, nonce: string | number | undefined, guildIdJson: string, member: MemberRecord): string {
  // Discord echoes the nonce in MESSAGE_CREATE so a client can match its optimistic copy.
  const withNonce = nonce === undefined ? '' : `,"nonce":${JSON.stringify(nonce)}`;
  return `${messageJson.slice(0, -1)}${withNonce},"guild_id":${guildIdJson},"member":${memberDataJson(member)}}`;
}

export function guildBehaviour(ctx: GuildDeps, guildId: string, start?: GuildStart): Behaviour<GuildState, GuildProtocol> {
  const topic = ctx.pubsub.topic(guildId);
  const guildIdJson = JSON.stringify(guildId);
  const idleMs = ctx.config.guildIdleMs;
  /** Writes handed to the batcher and not yet answered: a guild never stops with one in flight. */
  let pending = 0;
  /** Cluster handover under way: every new call is refused (GUILD_MOVING); `handedOver` answers once pending is 0. */
  let movingOut = false;
  let handedOver: (() => void) | undefined;
  /** The handoff was given: the next home serves its sessions, so nothing here may reach them any more. */
  let handedOff = false;
  /** Monitors of subscribers on other nodes, by session id. */
  const remoteWatch = new Map<string, () => void>();
  /** On the actor's clock, as its timers. */
  let lastActive = 0;
  let idleCheck: (() => void) | undefined;
  /** enforce_nonce: recent posts by (author, channel, nonce); loaded back from the database at start. */
  const nonces = new RecentNonces<DeferredReply<GuildReply>>({ now: ctx.clock });

  /** Every guild ever used would stay in memory: one with nobody connected stops after a while. */
  function watchIdle(actor: ActorContext<GuildProtocol>): void {
    lastActive = actor.clock.now();
    if (idleMs > 0 && idleCheck === undefined) idleCheck = actor.sendAfter(idleMs, { type: 'idle_check' });
  }

  /** Publishes `event` to the guild's subscribers (encoded once, filtered by intents). */
  function broadcast(_state: GuildState, event: string, data: unknown, withoutContent?: unknown): void {
    topic.broadcast(event, data, withoutContent);
  }

  function requireMember(state: GuildState, userId: string): MemberRecord {
    return state.members.get(userId) ?? refuse('NOT_MEMBER');
  }

  function requireChannel(state: GuildState, channelId: string): void {
    if (!state.channels.has(channelId)) refuse('UNKNOWN_CHANNEL');
  }

  function setPresence(state: GuildState, userId: string, presence: Presence): void {
    const online = presence.status !== 'offline' && presence.status !== 'invisible';
    if (online) state.presences.set(userId, presence);
    else if (!state.presences.delete(userId)) return;
    broadcast(state, 'PRESENCE_UPDATE', presenceData(guildId, userId, online ? presence : { status: 'offline', activities: [] }));
  }

  /** Unsubscribes a session; its user goes offline here with their last one. Returns the dropped subscriber. */
  function dropSession(state: GuildState, sessionId: string): Subscriber | undefined {
    remoteWatch.get(sessionId)?.();
    remoteWatch.delete(sessionId);
    const dropped = topic.unsubscribe(sessionId);
    if (dropped?.lastOfUser) setPresence(state, dropped.subscriber.userId, { status: 'offline', activities: [] });
    return dropped?.subscriber;
  }

  /** Subscribes a session; one on another node is watched, so its node's death drops it. */
  function subscribe(sessionId: string, subscriber: Subscriber, actor: ActorContext<GuildProtocol>): boolean {
    const previous = remoteWatch.get(sessionId);
    previous?.();
    remoteWatch.delete(sessionId);
    const first = topic.subscribe(sessionId, subscriber);
    const session = subscriber.ref;
    const unwatch = ctx.monitorRemote?.(session, () => actor.self.cast({ type: 'subscriber_down', sessionId, ref: session }));
    if (unwatch !== undefined) remoteWatch.set(sessionId, unwatch);
    return first;
  }

  /** The handoff for the next home: subscribers (refs as addresses) and presences. */
  function handoff(state: GuildState): GuildHandoff {
    const subscribers: GuildHandoff['subscribers'] = [];
    for (const [sessionId, s] of topic.entries()) {
      const a = s.ref.address;
      subscribers.push({ sessionId, session: [a.node, a.id, a.kind], userId: s.userId, intents: s.intents });
    }
    // No enforce_nonce entries: they are in the database, where the next home loads them from.
    return { subscribers, presences: [...state.presences] };
  }

  /** Writes in flight all answered: a waiting handover may go on. */
  function settled(): void {
    if (pending === 0 && handedOver !== undefined) {
      const done = handedOver;
      handedOver = undefined;
      done();
    }
  }

  /**
   * Hands `write` to the batcher and answers the call once it is committed:
   * `done` turns the committed value into the reply (and broadcasts), in the
   * context the write was made in. `undo` reverts what the actor assumed when
   * the write cannot be committed.
   */
  function persist<T>(actor: ActorContext<GuildProtocol>, write: GuildWrite, done: (value: T) => unknown, undo?: () => void): typeof LATER {
    const reply: DeferredReply<GuildReply> = actor.deferReply();
    pending++;
    ctx.writes.submit(write).then(
      (outcome) => {
        pending--;
        if (!outcome.ok) {
          undo?.();
          reply.resolve({ ok: false, error: outcome.error.code, message: outcome.error.message });
          settled();
          return;
        }
        let value: unknown;
        try {
          value = done(outcome.value as T);
        } catch (err) {
          // A bug in building the event must not leave the caller hanging; the write stays committed.
          ctx.logger.error({ err, guild: guildId, write: write.kind }, 'guild failed after a commit');
          reply.reject(err instanceof Error ? err : new Error(String(err)));
          settled();
          return;
        }
        reply.resolve({ ok: true, value });
        settled();
      },
      (err: unknown) => {
        pending--;
        undo?.();
        const code = err instanceof StoreError ? err.code : 'UNAVAILABLE';
        reply.resolve({ ok: false, error: code, message: err instanceof Error ? err.message : undefined });
        settled();
      },
    );
    return LATER;
  }

  function now(): string {
    return new Date(ctx.clock()).toISOString();
  }

  function handle(msg: GuildCall, state: GuildState, actor: ActorContext<GuildProtocol>): unknown {
    switch (msg.type) {
      case 'connect': {
        requireMember(state, msg.userId);
        const first = subscribe(msg.sessionId, { ref: msg.session, userId: msg.userId, intents: msg.intents }, actor);
        if (first) setPresence(state, msg.userId, { status: msg.presence?.status ?? 'online', activities: msg.presence?.activities ?? [] });
        return guildCreatePayload(state, msg.userId, msg.intents, msg.largeThreshold);
      }
      case 'create_message': {
        requireChannel(state, msg.channelId);
        const member = requireMember(state, msg.authorId);
        const nonceToken = msg.enforceNonce === true && msg.nonce !== undefined ? RecentNonces.token(msg.nonce) : undefined;
        const nonceKey = nonceToken === undefined ? undefined : RecentNonces.key(msg.authorId, msg.channelId, nonceToken);
        if (nonceKey !== undefined) {
          const seen = nonces.seen(nonceKey);
          if (seen?.state === 'pending') {
            seen.waiters.push(actor.deferReply());
            return LATER;
          }
          if (seen?.state === 'committed') return storedMessage(seen.channelId, seen.messageId);
          nonces.begin(nonceKey);
        }
        const write: GuildWrite = {
          kind: 'create_message',
          id: ctx.ids.next(),
          channel_id: msg.channelId,
          guild_id: guildId,
          author_id: msg.authorId,
          content: msg.content,
          // Stored with the row, so a guild started after a crash still knows it (loadNonces).
          nonce: nonceToken ?? null,
        };
        return persist<MessageRecord>(
          actor,
          write,
          (record) => {
            // Encoded once: the REST answer writes this text (json-text.ts), and the event is built around it.
            const message = toAPIMessage(record);
            const text = JSON.stringify(message);
            rememberJson(message, text);
            // Committed: the repeats that waited get it, whatever happens below.
            if (nonceKey !== undefined) for (const w of nonces.commit(nonceKey, msg.channelId, record.id)) w.resolve({ ok: true, value: message });
            broadcast(
              state,
              'MESSAGE_CREATE',
              new JsonText(messageCreateJson(text, msg.nonce, guildIdJson, member)),
              // Sessions without MESSAGE_CONTENT: made only if one is subscribed.
              new JsonText(() => messageCreateJson(JSON.stringify({ ...message, content: '' }), msg.nonce, guildIdJson, member)),
            );
            return message;
          },
          // Not created: the repeats that waited are told so too (a retry of theirs may create).
          nonceKey === undefined ? undefined : () => { for (const w of nonces.fail(nonceKey)) w.resolve({ ok: false, error: 'UNAVAILABLE' }); },
        );
      }
      case 'update_message': {
        requireChannel(state, msg.channelId);
        requireMember(state, msg.userId);
        // Authorship never changes, so it is checked once against the stored message.
        return checkedMessage(msg.channelId, msg.messageId, (existing) => {
          if (existing.author.id !== msg.userId) refuse('NOT_AUTHOR');
          const write: GuildWrite = { kind: 'update_message', channel_id: msg.channelId, message_id: msg.messageId, content: msg.content, edited_timestamp: now() };
          return persist<MessageRecord>(actor, write, (record) => {
            const message = toAPIMessage(record);
            const event = { ...message, guild_id: guildId };
            broadcast(state, 'MESSAGE_UPDATE', event, { ...event, content: '' });
            return message;
          });
        });
      }
      case 'delete_message': {
        requireChannel(state, msg.channelId);
        requireMember(state, msg.userId);
        return checkedMessage(msg.channelId, msg.messageId, (existing) => {
          if (existing.author.id !== msg.userId && state.guild.owner_id !== msg.userId) refuse('NOT_PERMITTED');
          const write: GuildWrite = { kind: 'delete_message', channel_id: msg.channelId, message_id: msg.messageId };
          return persist<MessageRecord>(actor, write, () => {
            broadcast(state, 'MESSAGE_DELETE', { id: msg.messageId, channel_id: msg.channelId, guild_id: guildId });
            return undefined;
          });
        });
      }
      case 'add_reaction':
      case 'remove_reaction': {
        requireChannel(state, msg.channelId);
        const member = requireMember(state, msg.userId);
        const add = msg.type === 'add_reaction';
        const write: GuildWrite = { kind: msg.type, channel_id: msg.channelId, message_id: msg.messageId, user_id: msg.userId, emoji: msg.emoji };
        return persist<ReactionChange>(actor, write, (change) => {
          if (!change.changed) return undefined;
          const base = { user_id: msg.userId, channel_id: msg.channelId, message_id: msg.messageId, guild_id: guildId, emoji: msg.emoji, burst: false, type: 0 };
          if (add) {
            broadcast(state, 'MESSAGE_REACTION_ADD', {
              ...base,
              member: { ...(memberData(member) as object), user: toAPIUser(member.user) },
              message_author_id: change.message.author.id,
              burst_colors: [],
            });
          } else {
            broadcast(state, 'MESSAGE_REACTION_REMOVE', base);
          }
          return undefined;
        });
      }
      case 'typing': {
        requireChannel(state, msg.channelId);
        const member = requireMember(state, msg.userId);
        broadcast(state, 'TYPING_START', {
          channel_id: msg.channelId,
          guild_id: guildId,
          user_id: msg.userId,
          timestamp: Math.floor(ctx.clock() / 1000),
          member: { ...(memberData(member) as object), user: toAPIUser(member.user) },
        });
        return undefined;
      }
      case 'create_channel': {
        requireMember(state, msg.userId);
        if (state.guild.owner_id !== msg.userId) refuse('NOT_PERMITTED');
        let position = 0;
        for (const c of state.channels.values()) position = Math.max(position, c.position + 1);
        const channel: ChannelRecord = { id: ctx.ids.next(), type: 0, guild_id: guildId, name: msg.name, position, topic: msg.topic, last_message_id: null };
        // Known at once, so posts to it queue behind its commit (same batch or a later one).
        state.channels.set(channel.id, channel);
        const write: GuildWrite = { kind: 'create_channel', id: channel.id, guild_id: guildId, name: channel.name, topic: channel.topic, position };
        return persist<ChannelRecord>(
          actor,
          write,
          (stored) => {
            state.channels.set(stored.id, stored);
            ctx.debug.channelCreated(guildId, stored.id);
            const api = toAPIChannel(stored);
            broadcast(state, 'CHANNEL_CREATE', api);
            return api;
          },
          () => state.channels.delete(channel.id),
        );
      }
      case 'add_member': {
        if (state.guild.owner_id !== msg.actorId) refuse('NOT_PERMITTED');
        const existing = state.members.get(msg.userId);
        if (existing) return { member: toAPIMember(existing), added: false };
        const write: GuildWrite = { kind: 'add_member', guild_id: guildId, user_id: msg.userId, joined_at: now() };
        return persist<MemberAdded>(actor, write, ({ member, added }) => {
          if (added) {
            state.members.set(member.user.id, member);
            broadcast(state, 'GUILD_MEMBER_ADD', { ...toAPIMember(member), guild_id: guildId });
            // The new member's live sessions connect and get GUILD_CREATE.
            ctx.sessions.tell(msg.userId, { type: 'guild_joined', guildId });
          }
          return { member: toAPIMember(member), added };
        });
      }
      case 'remove_member': {
        const target = state.members.get(msg.userId) ?? refuse('UNKNOWN_MEMBER');
        const self = msg.actorId === msg.userId;
        const owner = state.guild.owner_id;
        // The owner removes anyone but themself; a member may leave. The owner cannot leave their guild.
        if (msg.userId === owner || (!self && msg.actorId !== owner)) refuse('NOT_PERMITTED');
        // Refused at once from here on; their sessions are told once the removal is committed.
        state.members.delete(msg.userId);
        const write: GuildWrite = { kind: 'remove_member', guild_id: guildId, user_id: msg.userId };
        return persist<boolean>(
          actor,
          write,
          () => {
            for (const sessionId of topic.sessionIdsOf(msg.userId)) {
              dropSession(state, sessionId)?.ref.cast({ type: 'guild_removed', guildId });
            }
            broadcast(state, 'GUILD_MEMBER_REMOVE', { guild_id: guildId, user: toAPIUser(target.user) });
            return true;
          },
          () => {
            if (!state.members.has(msg.userId)) state.members.set(msg.userId, target);
          },
        );
      }
      case 'request_members':
        return queryMembers(state, msg.query);
      case 'swap': {
        // A session moved node (server/gateway/session-handoff.ts). The marker goes to the old ref after every
        // broadcast made to it (one sender, in order); everything from now on goes to the new ref, watched as any.
        const current = topic.get(msg.sessionId);
        if (current !== undefined) subscribe(msg.sessionId, { ...current, ref: msg.to }, actor);
        (current?.ref ?? msg.from).cast({ type: 'swapped', guildId });
        return { found: current !== undefined };
      }
      case 'activate':
        return undefined;
      case 'adopt': {
        let adopted = 0;
        for (const a of msg.subscribers) {
          if (topic.get(a.sessionId) !== undefined || !state.members.has(a.userId)) continue;
          const first = subscribe(a.sessionId, { ref: a.session, userId: a.userId, intents: a.intents }, actor);
          if (first) setPresence(state, a.userId, { status: 'online', activities: [] });
          a.session.cast({ type: 'guild_home', guildId, guild: actor.self });
          adopted++;
        }
        return adopted;
      }
      case 'handover': {
        // Everything before this in the mailbox was handled; everything after is refused (nothing written).
        movingOut = true;
        const reply: DeferredReply<GuildReply> = actor.deferReply();
        handedOver = () => {
          handedOff = true;
          reply.resolve({ ok: true, value: handoff(state) });
        };
        settled();
        return LATER;
      }
    }
  }

  /** The enforce_nonce posts of the window, from the database (at most MAX_NONCES_PER_GUILD, the newest), oldest first. */
  async function loadNonces(): Promise<NonceRecord[]> {
    const stored = await ctx.store.recentNonces(guildId, ctx.clock() - NONCE_WINDOW_MS, MAX_NONCES_PER_GUILD);
    return stored
      .reverse()
      .map((n) => [RecentNonces.key(n.author_id, n.channel_id, n.nonce), n.channel_id, n.message_id, timestampOf(n.message_id) + NONCE_WINDOW_MS]);
  }

  /** A repeat of a committed enforce_nonce post: the message it created, as stored now. */
  async function storedMessage(channelId: string, messageId: string): Promise<unknown> {
    const stored = (await ctx.store.getMessage(channelId, messageId)) ?? refuse('UNKNOWN_MESSAGE');
    return toAPIMessage(stored);
  }

  /** Reads the stored message (the one async step a guild takes, for edits and deletes), then goes on. */
  async function checkedMessage(channelId: string, messageId: string, next: (existing: MessageRecord) => unknown): Promise<unknown> {
    const existing = (await ctx.store.getMessage(channelId, messageId)) ?? refuse('UNKNOWN_MESSAGE');
    return next(existing);
  }

  function answer(value: unknown): GuildReply | typeof LATER {
    return value === LATER ? LATER : { ok: true, value };
  }

  function refusal(err: unknown): GuildReply {
    if (err instanceof Refusal) return { ok: false, error: err.error };
    if (err instanceof StoreError) return { ok: false, error: err.code, message: err.message };
    throw err;
  }

  return {
    kind: 'guild',
    init: async (actor) => {
      // A (re)started guild has no subscribers: its sessions connect again, as before the topic lived outside the actor.
      topic.clear();
      for (const unwatch of remoteWatch.values()) unwatch();
      remoteWatch.clear();
      // A restart cancelled the old actor's timers: the idle check is scheduled afresh.
      idleCheck = undefined;
      watchIdle(actor);
      // Before any call is handled: a retry of a post made before a restart or a failover finds it.
      const [state, stored] = await Promise.all([loadGuildState(ctx.store, guildId), loadNonces()]);
      nonces.load(stored);
      // Moved from another node (cluster handover): its sessions stay subscribed, its presences stay.
      if (start !== undefined) {
        for (const [sessionId, subscriber] of start.subscribers) {
          subscribe(sessionId, subscriber, actor);
          // Its sessions watch where the guild runs (its node dying makes it unavailable to them): here now.
          subscriber.ref.cast({ type: 'guild_home', guildId, guild: actor.self });
        }
        for (const [userId, presence] of start.presences) if (topic.hasUser(userId)) state.presences.set(userId, presence);
        start = undefined;
      }
      return state;
    },
    terminate() {
      for (const unwatch of remoteWatch.values()) unwatch();
      remoteWatch.clear();
    },
    handleInfo(msg, _state, actor) {
      if (msg.type !== 'idle_check') return;
      idleCheck = undefined;
      // Handing over: the handover stops it once the handoff is taken.
      if (movingOut) return;
      if (topic.size === 0 && pending === 0 && actor.clock.now() - lastActive >= idleMs) {
        ctx.pubsub.drop(guildId);
        actor.stop();
        return;
      }
      // Still in use: look again later (one timer per guild, not per message).
      if (idleMs > 0) idleCheck = actor.sendAfter(idleMs, { type: 'idle_check' });
    },
    handleCall(msg, state, actor): GuildReply | Promise<GuildReply> {
      if (movingOut) return GUILD_MOVING;
      watchIdle(actor);
      // A deferred reply makes the actor ignore what the handler returns; LATER only marks it.
      let result: unknown;
      try {
        result = handle(msg, state, actor);
      } catch (err) {
        return refusal(err);
      }
      if (result instanceof Promise) {
        return result.then(
          (value) => answer(value) as GuildReply,
          (err: unknown) => refusal(err),
        );
      }
      return answer(result) as GuildReply;
    },
    handleCast(msg: GuildCast, state, actor) {
      if (handedOff) return;
      watchIdle(actor);
      switch (msg.type) {
        case 'disconnect':
          dropSession(state, msg.sessionId);
          return;
        case 'subscriber_down': {
          // Only if the session is still that ref (a session resumed elsewhere re-subscribes under the same id).
          const current = topic.get(msg.sessionId)?.ref.address;
          const gone = msg.ref.address;
          if (current !== undefined && current.node === gone.node && current.id === gone.id) dropSession(state, msg.sessionId);
          return;
        }
        case 'presence_update':
          if (topic.hasUser(msg.userId)) setPresence(state, msg.userId, { status: msg.presence.status, activities: msg.presence.activities });
          return;
      }
    },
  };
}
