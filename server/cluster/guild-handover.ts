// Moving guilds off this node (cluster mode), without losing or repeating a message:
//
// 1. The guild is sent a `handover` call. Everything before it in its mailbox
//    is handled as usual; from then on it answers every call GUILD_MOVING
//    (nothing written, so the caller's askGuild tries again, at the new home).
// 2. It answers the handover once its writes in flight have committed and
//    been replied to and broadcast; the answer is the handoff (its
//    subscribers and presences).
// 3. Its lease is released with the handoff in it; then it stops (calls still
//    queued are refused with ACTOR_ERR_STOPPED, which askGuild also retries).
// 4. The new home acquires the released lease on its next call for the guild
//    and starts it with those subscribers (guild-placement.ts).
//
// A lease lost (not renewed in time: a partition) stops the guild at once,
// without a handoff: another node may own it already.
//
// Each handover is a span (`guild handover`), made here and not in the actor.
import type { ActorSystem } from '../../actors/index.js';
import { ATTR_GUILD_ID, inOperationSpan } from '../../tracing/index.js';
import type { Tracer } from '@opentelemetry/api';
import type { Logger } from '../context.js';
import { type GuildCall, type GuildHandoff, type GuildProtocol, askGuild, guildKey } from '../guild/guild-protocol.js';
import type { GuildPubSub } from '../pubsub/guild-pubsub.js';
import { GUILD_KEY_PREFIX, type GuildPlacement } from './guild-placement.js';

/** Subscribers per adopt call: about 200 KB, a fifth of NATS's default max_payload. */
const ADOPT_SLICE = 2_000;

export const ATTR_HANDOVER_FROM = 'guildhall.handover.from';
export const ATTR_HANDOVER_TO = 'guildhall.handover.to';
export const ATTR_HANDOVER_SUBSCRIBERS = 'guildhall.handover.subscribers';
export const ATTR_HANDOVER_REASON = 'guildhall.handover.reason';

export interface GuildHandoverOptions {
  system: ActorSystem;
  placement: GuildPlacement;
  pubsub: Pick<GuildPubSub, 'topic' | 'drop'>;
  tracer: Tracer;
  logger: Pick<Logger, 'warn'>;
  /** How long a guild may take to finish its writes in flight (default: the system's call timeout). */
  timeoutMs?: number;
}

export interface HandoverStats {
  /** Guilds handed over (lease released with a handoff, actor stopped). */
  handovers: number;
  /** Of those, guilds that could not give a handoff (crashed or too slow): their sessions reconnect. */
  withoutHandoff: number;
  /** Guilds stopped because their lease was lost. */
  lost: number;
}

export class GuildHandover {
  readonly stats: HandoverStats = { handovers: 0, withoutHandoff: 0, lost: 0 };
  private readonly system: ActorSystem;
  private readonly placement: GuildPlacement;
  private readonly pubsub: GuildHandoverOptions['pubsub'];
  private readonly tracer: Tracer;
  private readonly logger: GuildHandoverOptions['logger'];
  private readonly timeoutMs: number;
  private readonly moving = new Map<string, Promise<void>>();

  constructor(options: GuildHandoverOptions) {
    this.system = options.system;
    this.placement = options.placement;
    this.pubsub = options.pubsub;
    this.tracer = options.tracer;
    this.logger = options.logger;
    this.timeoutMs = options.timeoutMs ?? options.system.callTimeoutMs;
  }

  /** Guild ids running here. */
  running(): string[] {
    const ids: string[] = [];
    for (const a of this.system.addresses()) if (a.kind === 'guild' && a.id.startsWith(GUILD_KEY_PREFIX)) ids.push(a.id.slice(GUILD_KEY_PREFIX.length));
    return ids;
  }

  /** The placeable set changed: hands over every guild whose home is now another node. */
  rebalance(): Promise<void> {
    const node = this.placement.node;
    const moves = this.running()
      .filter((id) => this.placement.home(id) !== node)
      .map((id) => this.handover(id, 'rebalance'));
    return Promise.all(moves).then(() => undefined);
  }

  /** SIGTERM: no guild starts here any more, and every running one is handed over. */
  drainAll(): Promise<void> {
    this.placement.drain();
    return Promise.all(this.running().map((id) => this.handover(id, 'drain'))).then(() => undefined);
  }

  /** Hands one guild over (once, however often asked while it runs). */
  handover(guildId: string, reason: string): Promise<void> {
    const key = guildKey(guildId);
    const existing = this.moving.get(key);
    if (existing !== undefined) return existing;
    const job = this.run(guildId, key, reason)
      .catch((err: unknown) => this.logger.warn({ err, guild: guildId }, 'guild handover failed'))
      .finally(() => this.moving.delete(key));
    this.moving.set(key, job);
    return job;
  }

  /**
   * The guild's lease was lost: it stops at once. No handoff can be left in
   * KV (another node may own the entry now), so its subscribers are offered
   * to the guild's next home directly (`adopt`): when the loss was a stall
   * rather than a partition, its sessions keep receiving; cut off, the offer
   * fails and they reconnect as after a node failure.
   */
  lost(key: string, reason: string): void {
    const ref = this.system.whereis(key);
    this.stats.lost++;
    if (ref === undefined) return;
    const guildId = key.slice(GUILD_KEY_PREFIX.length);
    this.logger.warn({ guild: guildId, reason }, 'guild lease lost: stopped serving it');
    const subscribers = [...this.pubsub.topic(guildId).entries()].map(([sessionId, s]) => ({ sessionId, session: s.ref, userId: s.userId, intents: s.intents }));
    this.system.stop(ref, { type: 'shutdown' });
    this.forgetTopic(key);
    if (subscribers.length === 0) return;
    void this.offer(guildId, subscribers).catch((err: unknown) => this.logger.warn({ err, guild: guildId }, 'the next home did not adopt the subscribers of a lost guild'));
  }

  /** In slices, in order: each call stays far below NATS's max_payload (about 100 bytes a subscriber). */
  private async offer(guildId: string, subscribers: Extract<GuildCall, { type: 'adopt' }>['subscribers']): Promise<void> {
    for (let i = 0; i < subscribers.length; i += ADOPT_SLICE) {
      await askGuild((id) => this.placement.ref(id), guildId, { type: 'adopt', subscribers: subscribers.slice(i, i + ADOPT_SLICE) });
    }
  }

  private async run(guildId: string, key: string, reason: string): Promise<void> {
    const ref = this.system.whereis<GuildProtocol>(key);
    if (ref === undefined) return;
    const attributes = { [ATTR_GUILD_ID]: guildId, [ATTR_HANDOVER_FROM]: this.placement.node, [ATTR_HANDOVER_TO]: this.placement.home(guildId), [ATTR_HANDOVER_REASON]: reason };
    await inOperationSpan(this.tracer, 'guild handover', attributes, async (span) => {
      let handoff: GuildHandoff | undefined;
      try {
        const reply = await ref.call({ type: 'handover' }, { timeoutMs: this.timeoutMs });
        if (reply.ok) handoff = reply.value as GuildHandoff;
      } catch (err) {
        // Crashed or too slow: the lease still goes, without subscribers (its sessions connect again).
        this.logger.warn({ err, guild: guildId }, 'guild gave no handoff');
      }
      if (handoff === undefined) this.stats.withoutHandoff++;
      span.setAttribute(ATTR_HANDOVER_SUBSCRIBERS, handoff?.subscribers.length ?? 0);
      await this.placement.release(key, handoff);
      this.system.stop(ref);
      this.forgetTopic(key);
      this.stats.handovers++;
    });
    // The handoff lives in the released lease entry only until it expires: the new home takes it now, not on its next call.
    void askGuild((id) => this.placement.ref(id), guildId, { type: 'activate' }).catch((err: unknown) =>
      this.logger.warn({ err, guild: guildId }, 'the new home did not start the guild'),
    );
  }

  /** The topic's subscribers now belong to the new home. */
  private forgetTopic(key: string): void {
    const guildId = key.slice(GUILD_KEY_PREFIX.length);
    this.pubsub.topic(guildId).clear();
    this.pubsub.drop(guildId);
  }
}
