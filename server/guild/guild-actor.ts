// The guild actor: one per guild, spawned on demand through the registry. It
// owns its channels, members and presences, persists every change through the
// store, and publishes each event on its pub/sub topic (server/pubsub/), which
// knows who is subscribed and fans out. Refusals (not a member, not the
// author) are replies, never crashes.
import type { ActorRef, Behaviour } from '../../actors/index.js';
import { HttpError, type RestErrorName, RestErrors } from '../errors.js';
import type { SessionProtocol } from '../gateway/session-protocol.js';
import type { GuildPubSub, Subscriber } from '../pubsub/guild-pubsub.js';
import { toAPIChannel, toAPIMember, toAPIMessage, toAPIUser } from '../store/api-shapes.js';
import type { MemberRecord, Store } from '../store/store.js';
import { type Presence, guildCreatePayload, presenceData } from './guild-create.js';
import type { GuildCall, GuildCast, GuildProtocol, GuildReply } from './guild-protocol.js';
import { type GuildState, loadGuildState } from './guild-state.js';

/** What a guild actor needs from the server: narrow, so it does not depend on all of ServerContext. */
export interface GuildDeps {
  readonly store: Store;
  /** Subscribers and broadcast, per guild. */
  readonly pubsub: Pick<GuildPubSub, 'topic'>;
  /** A user's live sessions on this node, for events aimed at one user (a guild join). */
  readonly sessions: { ofUser(userId: string): ActorRef<SessionProtocol>[] };
  /** Debug-sampling index: which guild a channel belongs to. */
  readonly debug: { channelCreated(guildId: string, channelId: string): void };
}

/** A refusal the caller turns into a REST error. */
class Refusal extends Error {
  constructor(readonly error: RestErrorName) {
    super(error);
  }
}

const refuse = (error: RestErrorName): never => {
  throw new Refusal(error);
};

/** The catalog name of an HttpError thrown by the store (Unknown Message, ...). */
function nameOf(err: HttpError): RestErrorName | undefined {
  for (const [name, entry] of Object.entries(RestErrors)) {
    if (entry.code === err.code && entry.status === err.status) return name as RestErrorName;
  }
  return undefined;
}

function memberData(member: MemberRecord | undefined): unknown {
  if (!member) return undefined;
  const { user: _user, ...rest } = toAPIMember(member);
  return rest;
}

export function guildBehaviour(ctx: GuildDeps, guildId: string): Behaviour<GuildState, GuildProtocol> {
  const topic = ctx.pubsub.topic(guildId);

  /** Publishes `event` to the guild's subscribers (encoded once, filtered by intents). */
  function broadcast(_state: GuildState, event: string, data: unknown, withoutContent?: unknown): void {
    topic.broadcast(event, data, withoutContent);
  }

  function requireMember(state: GuildState, userId: string): MemberRecord {
    return state.members.get(userId) ?? refuse('MISSING_ACCESS');
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
    const dropped = topic.unsubscribe(sessionId);
    if (dropped?.lastOfUser) setPresence(state, dropped.subscriber.userId, { status: 'offline', activities: [] });
    return dropped?.subscriber;
  }

  async function handle(msg: GuildCall, state: GuildState): Promise<unknown> {
    const store = ctx.store;
    switch (msg.type) {
      case 'connect': {
        requireMember(state, msg.userId);
        const first = topic.subscribe(msg.sessionId, { ref: msg.session, userId: msg.userId, intents: msg.intents });
        if (first) setPresence(state, msg.userId, { status: msg.presence?.status ?? 'online', activities: msg.presence?.activities ?? [] });
        return guildCreatePayload(state, msg.userId, msg.intents, msg.largeThreshold);
      }
      case 'create_message': {
        requireChannel(state, msg.channelId);
        const member = requireMember(state, msg.authorId);
        const record = await store.createMessage({ channel_id: msg.channelId, author_id: msg.authorId, content: msg.content });
        const message = toAPIMessage(record);
        const event = { ...message, guild_id: guildId, member: memberData(member), mentions: [] };
        broadcast(state, 'MESSAGE_CREATE', event, { ...event, content: '' });
        return message;
      }
      case 'update_message': {
        requireChannel(state, msg.channelId);
        requireMember(state, msg.userId);
        const existing = (await store.getMessage(msg.channelId, msg.messageId)) ?? refuse('UNKNOWN_MESSAGE');
        if (existing.author.id !== msg.userId) refuse('CANNOT_EDIT_OTHERS_MESSAGE');
        const message = toAPIMessage(await store.updateMessage(msg.channelId, msg.messageId, { content: msg.content }));
        const event = { ...message, guild_id: guildId };
        broadcast(state, 'MESSAGE_UPDATE', event, { ...event, content: '' });
        return message;
      }
      case 'delete_message': {
        requireChannel(state, msg.channelId);
        requireMember(state, msg.userId);
        const existing = (await store.getMessage(msg.channelId, msg.messageId)) ?? refuse('UNKNOWN_MESSAGE');
        if (existing.author.id !== msg.userId && state.guild.owner_id !== msg.userId) refuse('MISSING_PERMISSIONS');
        await store.deleteMessage(msg.channelId, msg.messageId);
        broadcast(state, 'MESSAGE_DELETE', { id: msg.messageId, channel_id: msg.channelId, guild_id: guildId });
        return undefined;
      }
      case 'add_reaction':
      case 'remove_reaction': {
        requireChannel(state, msg.channelId);
        const member = requireMember(state, msg.userId);
        const add = msg.type === 'add_reaction';
        const change = add
          ? await store.addReaction(msg.channelId, msg.messageId, msg.userId, msg.emoji)
          : await store.removeReaction(msg.channelId, msg.messageId, msg.userId, msg.emoji);
        if (change.changed) {
          const base = { user_id: msg.userId, channel_id: msg.channelId, message_id: msg.messageId, guild_id: guildId, emoji: msg.emoji, burst: false, type: 0 };
          if (add) broadcast(state, 'MESSAGE_REACTION_ADD', { ...base, member: { ...(memberData(member) as object), user: toAPIUser(member.user) }, message_author_id: change.message.author.id, burst_colors: [] });
          else broadcast(state, 'MESSAGE_REACTION_REMOVE', base);
        }
        return undefined;
      }
      case 'typing': {
        requireChannel(state, msg.channelId);
        const member = requireMember(state, msg.userId);
        broadcast(state, 'TYPING_START', {
          channel_id: msg.channelId,
          guild_id: guildId,
          user_id: msg.userId,
          timestamp: Math.floor(Date.now() / 1000),
          member: { ...(memberData(member) as object), user: toAPIUser(member.user) },
        });
        return undefined;
      }
      case 'create_channel': {
        requireMember(state, msg.userId);
        if (state.guild.owner_id !== msg.userId) refuse('MISSING_PERMISSIONS');
        const channel = await store.createChannel({ guild_id: guildId, name: msg.name, topic: msg.topic });
        state.channels.set(channel.id, channel);
        ctx.debug.channelCreated(guildId, channel.id);
        const api = toAPIChannel(channel);
        broadcast(state, 'CHANNEL_CREATE', api);
        return api;
      }
      case 'add_member': {
        if (state.guild.owner_id !== msg.actorId) refuse('MISSING_PERMISSIONS');
        const { member, added } = await store.addMember(guildId, msg.userId);
        if (added) {
          state.members.set(member.user.id, member);
          broadcast(state, 'GUILD_MEMBER_ADD', { ...toAPIMember(member), guild_id: guildId });
          // The new member's live sessions connect and get GUILD_CREATE.
          for (const session of ctx.sessions.ofUser(msg.userId)) session.cast({ type: 'guild_joined', guildId });
        }
        return { member: toAPIMember(member), added };
      }
      case 'remove_member': {
        const target = state.members.get(msg.userId) ?? refuse('UNKNOWN_MEMBER');
        const self = msg.actorId === msg.userId;
        const owner = state.guild.owner_id;
        // The owner removes anyone but themself; a member may leave. The owner cannot leave their guild.
        if (msg.userId === owner || (!self && msg.actorId !== owner)) refuse('MISSING_PERMISSIONS');
        await store.removeMember(guildId, msg.userId);
        state.members.delete(msg.userId);
        for (const sessionId of topic.sessionIdsOf(msg.userId)) {
          dropSession(state, sessionId)?.ref.cast({ type: 'guild_removed', guildId });
        }
        broadcast(state, 'GUILD_MEMBER_REMOVE', { guild_id: guildId, user: toAPIUser(target.user) });
        return true;
      }
    }
  }

  return {
    kind: 'guild',
    init: () => {
      // A (re)started guild has no subscribers: its sessions connect again, as before the topic lived outside the actor.
      topic.clear();
      return loadGuildState(ctx.store, guildId);
    },
    async handleCall(msg, state): Promise<GuildReply> {
      try {
        return { ok: true, value: await handle(msg, state) };
      } catch (err) {
        if (err instanceof Refusal) return { ok: false, error: err.error };
        if (err instanceof HttpError) {
          const name = nameOf(err);
          if (name) return { ok: false, error: name, message: err.message };
        }
        throw err;
      }
    },
    handleCast(msg: GuildCast, state) {
      switch (msg.type) {
        case 'disconnect':
          dropSession(state, msg.sessionId);
          return;
        case 'presence_update':
          if (topic.hasUser(msg.userId)) setPresence(state, msg.userId, { status: msg.presence.status, activities: msg.presence.activities });
          return;
      }
    },
  };
}
