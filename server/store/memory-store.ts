// The in-memory Store: everything in Maps, nothing survives a restart.
// Memory is bounded where it grows with traffic: each channel keeps its
// newest N messages (default 1000) and forgets older ones, as a chat
// scrollback cache would.
import { httpError } from '../errors.js';
import { SnowflakeGenerator, compareSnowflakes, timestampOf } from '../ids/snowflake.js';
import type {
  ChannelRecord,
  EmojiRecord,
  GuildRecord,
  ListMembersOptions,
  ListMessagesOptions,
  MemberAdded,
  MemberRecord,
  MessageEdit,
  MessageRecord,
  NewChannel,
  NewGuild,
  NewMessage,
  NewUser,
  ReactionChange,
  Store,
  UserRecord,
} from './store.js';

export interface MemoryStoreOptions {
  ids?: SnowflakeGenerator;
  /** Unix milliseconds, for joined_at and edited_timestamp. Defaults to Date.now. */
  now?: () => number;
  /** Messages kept per channel; older ones are dropped. Default 1000. */
  maxMessagesPerChannel?: number;
}

/** Discord's cap on distinct reaction emoji per message. */
export const MAX_REACTIONS_PER_MESSAGE = 20;

interface GuildState {
  record: GuildRecord;
  channelIds: Set<string>;
  members: Map<string, { user_id: string; nick: string | null; roles: string[]; joined_at: string }>;
  /** Member user ids sorted, rebuilt lazily after a join or leave. */
  sortedMemberIds: string[] | undefined;
}

interface StoredReaction {
  emoji: EmojiRecord;
  users: Set<string>;
}

interface StoredMessage {
  id: string;
  channel_id: string;
  guild_id: string;
  author_id: string;
  content: string;
  timestamp: string;
  edited_timestamp: string | null;
  reactions: Map<string, StoredReaction>;
}

interface ChannelState {
  record: ChannelRecord;
  /** Insertion order is id order: ids come from one monotonic generator. */
  messages: Map<string, StoredMessage>;
}

const emojiKey = (e: EmojiRecord): string => (e.id === null ? `u:${e.name}` : `c:${e.id}`);

export class MemoryStore implements Store {
  private readonly ids: SnowflakeGenerator;
  private readonly now: () => number;
  private readonly maxMessages: number;
  private readonly users = new Map<string, UserRecord>();
  private readonly usernames = new Map<string, string>();
  private readonly guilds = new Map<string, GuildState>();
  private readonly channels = new Map<string, ChannelState>();
  /** user id -> guild ids, so listing a user's guilds does not scan every guild. */
  private readonly memberships = new Map<string, Set<string>>();

  constructor(options: MemoryStoreOptions = {}) {
    this.now = options.now ?? Date.now;
    this.ids = options.ids ?? new SnowflakeGenerator({ clock: this.now });
    this.maxMessages = options.maxMessagesPerChannel ?? 1000;
    if (!Number.isInteger(this.maxMessages) || this.maxMessages < 1) {
      throw new RangeError('maxMessagesPerChannel must be a positive integer');
    }
  }

  // --- users ------------------------------------------------------------------

  async createUser(input: NewUser): Promise<UserRecord> {
    const key = input.username.toLowerCase();
    if (this.usernames.has(key)) {
      throw httpError('INVALID_FORM_BODY', {
        errors: { username: { _errors: [{ code: 'USERNAME_ALREADY_TAKEN', message: 'Username is unavailable. Try another.' }] } },
      });
    }
    const user: UserRecord = {
      id: this.ids.next(),
      username: input.username,
      discriminator: '0',
      global_name: input.global_name ?? null,
      avatar: null,
      bot: input.bot ?? false,
    };
    this.users.set(user.id, user);
    this.usernames.set(key, user.id);
    return { ...user };
  }

  async getUser(id: string): Promise<UserRecord | undefined> {
    const user = this.users.get(id);
    return user && { ...user };
  }

  async findUserByUsername(username: string): Promise<UserRecord | undefined> {
    const id = this.usernames.get(username.toLowerCase());
    return id === undefined ? undefined : this.getUser(id);
  }

  private requireUser(id: string): UserRecord {
    const user = this.users.get(id);
    if (!user) throw httpError('UNKNOWN_USER');
    return user;
  }

  // --- guilds -----------------------------------------------------------------

  async createGuild(input: NewGuild): Promise<GuildRecord> {
    this.requireUser(input.owner_id);
    const id = this.ids.next();
    const record: GuildRecord = {
      id,
      name: input.name,
      owner_id: input.owner_id,
      icon: null,
      created_at: new Date(timestampOf(id)).toISOString(),
    };
    this.guilds.set(id, { record, channelIds: new Set(), members: new Map(), sortedMemberIds: undefined });
    await this.createChannel({ guild_id: id, name: 'general' });
    await this.addMember(id, input.owner_id);
    return { ...record };
  }

  async getGuild(id: string): Promise<GuildRecord | undefined> {
    const guild = this.guilds.get(id);
    return guild && { ...guild.record };
  }

  async listGuildsForUser(userId: string): Promise<GuildRecord[]> {
    const ids = [...(this.memberships.get(userId) ?? [])].sort(compareSnowflakes);
    return ids.map((id) => ({ ...this.guilds.get(id)!.record }));
  }

  async deleteGuild(id: string): Promise<boolean> {
    const guild = this.guilds.get(id);
    if (!guild) return false;
    for (const channelId of guild.channelIds) this.channels.delete(channelId);
    for (const userId of guild.members.keys()) this.memberships.get(userId)?.delete(id);
    this.guilds.delete(id);
    return true;
  }

  private requireGuild(id: string): GuildState {
    const guild = this.guilds.get(id);
    if (!guild) throw httpError('UNKNOWN_GUILD');
    return guild;
  }

  // --- channels ---------------------------------------------------------------

  async createChannel(input: NewChannel): Promise<ChannelRecord> {
    const guild = this.requireGuild(input.guild_id);
    let position = input.position;
    if (position === undefined) {
      position = 0;
      for (const cid of guild.channelIds) position = Math.max(position, this.channels.get(cid)!.record.position + 1);
    }
    const record: ChannelRecord = {
      id: this.ids.next(),
      type: 0,
      guild_id: input.guild_id,
      name: input.name,
      position,
      topic: input.topic ?? null,
      last_message_id: null,
    };
    this.channels.set(record.id, { record, messages: new Map() });
    guild.channelIds.add(record.id);
    return { ...record };
  }

  async getChannel(id: string): Promise<ChannelRecord | undefined> {
    const channel = this.channels.get(id);
    return channel && { ...channel.record };
  }

  async listChannels(guildId: string): Promise<ChannelRecord[]> {
    const guild = this.guilds.get(guildId);
    if (!guild) return [];
    return [...guild.channelIds]
      .map((id) => ({ ...this.channels.get(id)!.record }))
      .sort((a, b) => a.position - b.position || compareSnowflakes(a.id, b.id));
  }

  private requireChannel(id: string): ChannelState {
    const channel = this.channels.get(id);
    if (!channel) throw httpError('UNKNOWN_CHANNEL');
    return channel;
  }

  // --- members ----------------------------------------------------------------

  async addMember(guildId: string, userId: string): Promise<MemberAdded> {
    const guild = this.requireGuild(guildId);
    this.requireUser(userId);
    let added = false;
    if (!guild.members.has(userId)) {
      guild.members.set(userId, { user_id: userId, nick: null, roles: [], joined_at: new Date(this.now()).toISOString() });
      guild.sortedMemberIds = undefined;
      let set = this.memberships.get(userId);
      if (!set) this.memberships.set(userId, (set = new Set()));
      set.add(guildId);
      added = true;
    }
    return { member: this.memberOf(guild, userId)!, added };
  }

  async removeMember(guildId: string, userId: string): Promise<boolean> {
    const guild = this.guilds.get(guildId);
    if (!guild || !guild.members.delete(userId)) return false;
    guild.sortedMemberIds = undefined;
    this.memberships.get(userId)?.delete(guildId);
    return true;
  }

  async getMember(guildId: string, userId: string): Promise<MemberRecord | undefined> {
    const guild = this.guilds.get(guildId);
    return guild && this.memberOf(guild, userId);
  }

  async listMembers(guildId: string, options: ListMembersOptions = {}): Promise<MemberRecord[]> {
    const guild = this.guilds.get(guildId);
    if (!guild) return [];
    const limit = clamp(options.limit ?? 1000, 1, 1000);
    const sorted = (guild.sortedMemberIds ??= [...guild.members.keys()].sort(compareSnowflakes));
    const start = options.after === undefined ? 0 : upperBound(sorted, options.after, (id) => id);
    return sorted.slice(start, start + limit).map((id) => this.memberOf(guild, id)!);
  }

  async isMember(guildId: string, userId: string): Promise<boolean> {
    return this.guilds.get(guildId)?.members.has(userId) ?? false;
  }

  private memberOf(guild: GuildState, userId: string): MemberRecord | undefined {
    const m = guild.members.get(userId);
    const user = this.users.get(userId);
    if (!m || !user) return undefined;
    return { guild_id: guild.record.id, user: { ...user }, nick: m.nick, roles: [...m.roles], joined_at: m.joined_at };
  }

  // --- messages ---------------------------------------------------------------

  async createMessage(input: NewMessage): Promise<MessageRecord> {
    const channel = this.requireChannel(input.channel_id);
    this.requireUser(input.author_id);
    const id = this.ids.next();
    const stored: StoredMessage = {
      id,
      channel_id: input.channel_id,
      guild_id: channel.record.guild_id,
      author_id: input.author_id,
      content: input.content,
      timestamp: new Date(timestampOf(id)).toISOString(),
      edited_timestamp: null,
      reactions: new Map(),
    };
    channel.messages.set(id, stored);
    channel.record.last_message_id = id;
    if (channel.messages.size > this.maxMessages) {
      // Maps iterate in insertion order: the first key is the oldest message.
      const oldest = channel.messages.keys().next().value as string;
      channel.messages.delete(oldest);
    }
    return this.messageOf(stored);
  }

  async getMessage(channelId: string, messageId: string): Promise<MessageRecord | undefined> {
    const stored = this.channels.get(channelId)?.messages.get(messageId);
    return stored && this.messageOf(stored);
  }

  async listMessages(channelId: string, options: ListMessagesOptions = {}): Promise<MessageRecord[]> {
    const channel = this.channels.get(channelId);
    if (!channel) return [];
    const limit = clamp(options.limit ?? 50, 1, 100);
    const all = [...channel.messages.values()];
    let page: StoredMessage[];
    if (options.before !== undefined) {
      const end = lowerBound(all, options.before, (m) => m.id);
      page = all.slice(Math.max(0, end - limit), end);
    } else if (options.after !== undefined) {
      // Discord returns the messages right after `after`, not the newest ones.
      const start = upperBound(all, options.after, (m) => m.id);
      page = all.slice(start, start + limit);
    } else if (options.around !== undefined) {
      const pivot = lowerBound(all, options.around, (m) => m.id);
      const start = Math.max(0, pivot - Math.floor(limit / 2));
      page = all.slice(start, start + limit);
    } else {
      page = all.slice(Math.max(0, all.length - limit));
    }
    return page.reverse().map((m) => this.messageOf(m));
  }

  async updateMessage(channelId: string, messageId: string, edit: MessageEdit): Promise<MessageRecord> {
    const stored = this.requireMessage(channelId, messageId);
    stored.content = edit.content;
    stored.edited_timestamp = new Date(this.now()).toISOString();
    return this.messageOf(stored);
  }

  async deleteMessage(channelId: string, messageId: string): Promise<MessageRecord> {
    const stored = this.requireMessage(channelId, messageId);
    const before = this.messageOf(stored);
    this.channels.get(channelId)!.messages.delete(messageId);
    return before;
  }

  async addReaction(channelId: string, messageId: string, userId: string, emoji: EmojiRecord): Promise<ReactionChange> {
    const stored = this.requireMessage(channelId, messageId);
    this.requireUser(userId);
    const key = emojiKey(emoji);
    let reaction = stored.reactions.get(key);
    if (!reaction) {
      if (stored.reactions.size >= MAX_REACTIONS_PER_MESSAGE) throw httpError('MAX_REACTIONS');
      reaction = { emoji: { id: emoji.id, name: emoji.name }, users: new Set() };
      stored.reactions.set(key, reaction);
    }
    const changed = !reaction.users.has(userId);
    reaction.users.add(userId);
    return { message: this.messageOf(stored), changed };
  }

  async removeReaction(channelId: string, messageId: string, userId: string, emoji: EmojiRecord): Promise<ReactionChange> {
    const stored = this.requireMessage(channelId, messageId);
    const key = emojiKey(emoji);
    const reaction = stored.reactions.get(key);
    const changed = reaction?.users.delete(userId) ?? false;
    if (reaction && reaction.users.size === 0) stored.reactions.delete(key);
    return { message: this.messageOf(stored), changed };
  }

  private requireMessage(channelId: string, messageId: string): StoredMessage {
    const stored = this.requireChannel(channelId).messages.get(messageId);
    if (!stored) throw httpError('UNKNOWN_MESSAGE');
    return stored;
  }

  private messageOf(m: StoredMessage): MessageRecord {
    return {
      id: m.id,
      channel_id: m.channel_id,
      guild_id: m.guild_id,
      author: { ...this.users.get(m.author_id)! },
      content: m.content,
      timestamp: m.timestamp,
      edited_timestamp: m.edited_timestamp,
      reactions: [...m.reactions.values()].map((r) => ({ emoji: { ...r.emoji }, count: r.users.size, user_ids: [...r.users] })),
    };
  }
}

function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.floor(n)));
}

/** First index whose key is >= id. */
function lowerBound<T>(items: readonly T[], id: string, key: (item: T) => string): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareSnowflakes(key(items[mid]!), id) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose key is > id. */
function upperBound<T>(items: readonly T[], id: string, key: (item: T) => string): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareSnowflakes(key(items[mid]!), id) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
