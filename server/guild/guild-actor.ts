// The guild actor: one per guild, spawned on demand through the registry. It
// owns its channels, members and presences, persists every change through the
// store, and fans each event out to the connected sessions. Refusals (not a
// member, not the author) are replies, never crashes.
import type { Behaviour } from '../../actors/index.js';
import { ATTR_GUILD_ID } from '../../tracing/index.js';
import type { ServerContext } from '../context.js';
import { HttpError, type RestErrorName, RestErrors } from '../errors.js';
import { EncodedDispatch } from '../gateway/dispatch.js';
import { GatewayIntentBits } from '../gateway/protocol.js';
import type { SessionCast } from '../gateway/session-protocol.js';
import { toAPIChannel, toAPIMember, toAPIMessage, toAPIUser } from '../store/api-shapes.js';
import type { MemberRecord } from '../store/store.js';
import { type Presence, guildCreatePayload, presenceData } from './guild-create.js';
import type { GuildCall, GuildCast, GuildProtocol, GuildReply } from './guild-protocol.js';
import { type ConnectedSession, type GuildState, loadGuildState } from './guild-state.js';

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

export function guildBehaviour(ctx: ServerContext, guildId: string): Behaviour<GuildState, GuildProtocol> {
  const fanoutAttributes = { [ATTR_GUILD_ID]: guildId };

  /** Encodes `data` once and fans it out to every session whose intents want `event`. */
  function broadcast(state: GuildState, event: string, data: unknown, withoutContent?: unknown): void {
    const encoded = new EncodedDispatch(event, data);
    const intent = encoded.intent;
    const full: ConnectedSession['ref'][] = [];
    const stripped: ConnectedSession['ref'][] = [];
    for (const s of state.sessions.values()) {
      if (intent !== undefined && (s.intents & intent) === 0) continue;
      // Without the MESSAGE_CONTENT intent a session sees messages with empty content, as on Discord.
      if (withoutContent !== undefined && (s.intents & GatewayIntentBits.MessageContent) === 0) stripped.push(s.ref);
      else full.push(s.ref);
    }
    const attributes = { ...fanoutAttributes, 'guildhall.event': event };
    // One histogram observation per broadcast, never per recipient.
    if (full.length > 0) {
      const r = ctx.system.broadcast(full, { type: 'dispatch', event: encoded } satisfies SessionCast, { attributes });
      ctx.metrics.fanout(full.length, r.kept);
    }
    if (stripped.length > 0) {
      const message: SessionCast = { type: 'dispatch', event: new EncodedDispatch(event, withoutContent) };
      const r = ctx.system.broadcast(stripped, message, { attributes });
      ctx.metrics.fanout(stripped.length, r.kept);
    }
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

  function dropSession(state: GuildState, sessionId: string): void {
    const s = state.sessions.get(sessionId);
    if (!s) return;
    state.sessions.delete(sessionId);
    const mine = state.sessionsByUser.get(s.userId);
    mine?.delete(sessionId);
    if (mine && mine.size === 0) {
      state.sessionsByUser.delete(s.userId);
      setPresence(state, s.userId, { status: 'offline', activities: [] });
    }
  }

  async function handle(msg: GuildCall, state: GuildState): Promise<unknown> {
    const store = ctx.store;
    switch (msg.type) {
      case 'connect': {
        requireMember(state, msg.userId);
        state.sessions.set(msg.sessionId, { ref: msg.session, userId: msg.userId, intents: msg.intents });
        let mine = state.sessionsByUser.get(msg.userId);
        if (!mine) state.sessionsByUser.set(msg.userId, (mine = new Set()));
        const first = mine.size === 0;
        mine.add(msg.sessionId);
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
        for (const sessionId of [...(state.sessionsByUser.get(msg.userId) ?? [])]) {
          const s = state.sessions.get(sessionId);
          dropSession(state, sessionId);
          s?.ref.cast({ type: 'guild_removed', guildId });
        }
        broadcast(state, 'GUILD_MEMBER_REMOVE', { guild_id: guildId, user: toAPIUser(target.user) });
        return true;
      }
    }
  }

  return {
    kind: 'guild',
    init: () => loadGuildState(ctx.store, guildId),
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
          if (state.sessionsByUser.has(msg.userId)) setPresence(state, msg.userId, { status: msg.presence.status, activities: msg.presence.activities });
          return;
      }
    },
  };
}
