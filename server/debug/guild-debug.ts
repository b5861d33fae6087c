// Debug sampling per guild: the server's side of tracing/debug-sampling.ts.
// A window is keyed by guild id, and this file says where a guild id is found:
//
// - on any span tagged with guildhall.guild.id (REST routes with {guild_id},
//   the guild's fanout spans);
// - on a guild actor's process span (actor id `guild:<id>`): a bare message to
//   a debugged guild (a gateway connect from an unsampled IDENTIFY, a cast from
//   an unsampled request) starts a root there;
// - on a REST request to /channels/{channel_id}/...: the ingress span only
//   knows the path when the root decision is made, so the channels of a guild
//   are indexed (synchronously readable) while its window is open.
import type { Attributes } from '@opentelemetry/api';
import { ATTR_ACTOR_ID, ATTR_ACTOR_KIND, ATTR_GUILD_ID, DebugSampling, type DebugWindow } from '../../tracing/index.js';
import { guildKey } from '../guild/guild-protocol.js';
import type { Store } from '../store/store.js';

const GUILD_ACTOR_PREFIX = guildKey('');
const CHANNEL_PATH = /^\/api\/v10\/channels\/(\d{1,20})(?:[/?]|$)/;

export const MIN_DEBUG_MINUTES = 1;
export const MAX_DEBUG_MINUTES = 60;

export interface GuildDebugWindow {
  guild_id: string;
  /** ISO timestamps. */
  since: string;
  until: string;
  remaining_seconds: number;
}

export class GuildDebugSampling {
  readonly sampling: DebugSampling;
  /** channel id -> guild id, for guilds with an open (or recently closed) window. */
  private readonly channelGuild = new Map<string, string>();

  constructor(now?: () => number) {
    this.sampling = new DebugSampling({
      ...(now === undefined ? {} : { now }),
      keyOf: (attributes) => this.guildOf(attributes),
      actorKey: (kind, id) => (kind === 'guild' && id.startsWith(GUILD_ACTOR_PREFIX) ? id.slice(GUILD_ACTOR_PREFIX.length) : undefined),
    });
  }

  /** Traces everything of `guildId` for `minutes` from now (the guild must exist). */
  async start(store: Store, guildId: string, minutes: number): Promise<GuildDebugWindow> {
    this.forgetClosed();
    for (const channel of await store.listChannels(guildId)) this.channelGuild.set(channel.id, guildId);
    return this.describe(this.sampling.enable(guildId, minutes * 60_000));
  }

  /** Ends the window early; false if none was open. */
  end(guildId: string): boolean {
    const ended = this.sampling.disable(guildId);
    this.forgetClosed();
    return ended;
  }

  get(guildId: string): GuildDebugWindow | undefined {
    const w = this.sampling.window(guildId);
    return w === undefined ? undefined : this.describe(w);
  }

  list(): GuildDebugWindow[] {
    return this.sampling.list().map((w) => this.describe(w));
  }

  /** A channel made while its guild is being debugged (so its REST requests are found too). */
  channelCreated(guildId: string, channelId: string): void {
    if (this.sampling.isActive(guildId)) this.channelGuild.set(channelId, guildId);
  }

  private guildOf(attributes: Attributes): string | undefined {
    const guild = attributes[ATTR_GUILD_ID];
    if (typeof guild === 'string') return guild;
    if (attributes[ATTR_ACTOR_KIND] === 'guild') {
      const id = attributes[ATTR_ACTOR_ID];
      if (typeof id === 'string' && id.startsWith(GUILD_ACTOR_PREFIX)) return id.slice(GUILD_ACTOR_PREFIX.length);
    }
    const path = attributes['url.path'];
    if (typeof path === 'string' && this.channelGuild.size !== 0) {
      const m = CHANNEL_PATH.exec(path);
      if (m) return this.channelGuild.get(m[1]!);
    }
    return undefined;
  }

  private forgetClosed(): void {
    for (const [channel, guild] of this.channelGuild) if (!this.sampling.isActive(guild)) this.channelGuild.delete(channel);
  }

  private describe(w: DebugWindow): GuildDebugWindow {
    return {
      guild_id: w.key,
      since: new Date(w.since).toISOString(),
      until: new Date(w.until).toISOString(),
      remaining_seconds: Math.max(0, Math.ceil((w.until - this.sampling.now()) / 1000)),
    };
  }
}
