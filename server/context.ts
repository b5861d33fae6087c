// Everything a request handler, the gateway or an actor behaviour needs,
// made once at start (see app.ts) and passed down: no module-level singletons.
import type { ActorRef, ActorSystem } from '../actors/index.js';
import type { Tracing, Transport } from '../tracing/index.js';
import type { Config } from './config.js';
import type { GuildDebugSampling } from './debug/guild-debug.js';
import { HttpError, type RestErrorName, RestErrors } from './errors.js';
import type { SessionCast, SessionProtocol } from './gateway/session-protocol.js';
import { type GuildCall, type GuildProtocol, type GuildRefusal, askGuild } from './guild/guild-protocol.js';
import type { SnowflakeGenerator } from './ids/snowflake.js';
import type { ServerMetrics } from './metrics/server-metrics.js';
import { StoreError } from './store/errors.js';
import type { GuildPubSub } from './pubsub/guild-pubsub.js';
import type { Store } from './store/store.js';
import type { WriteBatcher } from './store/write-batcher.js';

export interface Logger {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  debug(obj: object | string, msg?: string): void;
}

/** An event aimed at one user rather than at a guild's subscribers. */
export type UserCast = Extract<SessionCast, { type: 'guild_joined' }>;

/** Who is connected where: a user's live sessions, for events aimed at one user (a guild join). */
export class SessionDirectory {
  private readonly byUser = new Map<string, Map<string, ActorRef<SessionProtocol>>>();
  /** Cluster mode: passes a user event on to the other nodes, whose sessions of that user get it too. */
  elsewhere: ((userId: string, cast: UserCast) => void) | undefined;

  /** Casts to every live session of the user: here, and on the other nodes in cluster mode. */
  tell(userId: string, cast: UserCast): void {
    this.tellHere(userId, cast);
    this.elsewhere?.(userId, cast);
  }

  /** Casts to the user's sessions on this node only (what another node's `tell` arrives as). */
  tellHere(userId: string, cast: UserCast): void {
    for (const session of this.ofUser(userId)) session.cast(cast);
  }

  add(userId: string, sessionId: string, ref: ActorRef<SessionProtocol>): void {
    let sessions = this.byUser.get(userId);
    if (!sessions) this.byUser.set(userId, (sessions = new Map()));
    sessions.set(sessionId, ref);
  }

  remove(userId: string, sessionId: string): void {
    const sessions = this.byUser.get(userId);
    if (!sessions) return;
    sessions.delete(sessionId);
    if (sessions.size === 0) this.byUser.delete(userId);
  }

  ofUser(userId: string): ActorRef<SessionProtocol>[] {
    return [...(this.byUser.get(userId)?.values() ?? [])];
  }

  get size(): number {
    let n = 0;
    for (const s of this.byUser.values()) n += s.size;
    return n;
  }
}

export interface ServerContext {
  readonly config: Config;
  readonly store: Store;
  /** Group commit of guild writes (one transaction for whatever has queued). */
  readonly writes: WriteBatcher;
  /** Wall clock, epoch milliseconds (timestamps of edits and joins). */
  readonly clock: () => number;
  readonly system: ActorSystem;
  readonly transport: Transport;
  readonly tracing: Tracing;
  readonly ids: SnowflakeGenerator;
  readonly sessions: SessionDirectory;
  /** Guild topics: who is subscribed to each guild, and its broadcast. */
  readonly pubsub: GuildPubSub;
  readonly logger: Logger;
  /** Counters and histograms behind GET /metrics. */
  readonly metrics: ServerMetrics;
  /** Per-guild debug windows (trace everything of one guild for a while). */
  readonly debug: GuildDebugSampling;
  /** The guild's actor, spawned on first use (the guild must exist in the store). */
  guild(guildId: string): ActorRef<GuildProtocol>;
  /** Base URL clients reach this server at (http://host:port). */
  publicUrl(): string;
}

// A guild's own refusals, as Discord words them. What the store said is mapped
// with every other StoreError by the REST error handler.
const GUILD_REFUSALS: Partial<Record<GuildRefusal, RestErrorName>> = {
  NOT_MEMBER: 'MISSING_ACCESS',
  NOT_AUTHOR: 'CANNOT_EDIT_OTHERS_MESSAGE',
  NOT_PERMITTED: 'MISSING_PERMISSIONS',
  // Cluster mode: still moving after askGuild's retries. Nothing was written; 503 with Retry-After.
  GUILD_MOVING: 'SERVICE_UNAVAILABLE',
};

/** Calls a guild actor; a refusal becomes the error the REST client should see. */
export async function callGuild<T>(ctx: ServerContext, guildId: string, message: GuildCall): Promise<T> {
  const reply = await askGuild((id) => ctx.guild(id), guildId, message);
  if (reply.ok) return reply.value as T;
  const name = GUILD_REFUSALS[reply.error];
  if (name !== undefined) throw new HttpError(RestErrors[name]);
  throw new StoreError(reply.error as StoreError['code'], reply.message);
}
