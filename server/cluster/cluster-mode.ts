// The server's cluster mode (GUILDHALL_NATS_URL): one NATS connection, the
// remote router (actors across nodes, the node id as the actor system's node
// name), the guild lease table, membership, guild placement and handover.
//
// Order of start: the router, the lease table and this node's snowflake slot
// first (createServer: a NATS server that cannot be reached stops the start), membership once the HTTP
// server listens (`join`): only then may other nodes place guilds here. From
// then on each change of the placeable set hands over the guilds whose home
// moved. See docs/cluster.md.
import type { ActorRef, ActorSystem } from '../../actors/index.js';
import { LeaseTable, Membership, SnowflakeSlots, type NatsConnection, NatsRemoteRouter, type NodeInfo, type RemoteStats, type SnowflakeSlotStats, connectNats } from '../../cluster/index.js';
import type { Tracer } from '@opentelemetry/api';
import type { ClusterConfig } from '../config.js';
import type { Logger, SessionDirectory } from '../context.js';
import type { GuildHandoff, GuildProtocol } from '../guild/guild-protocol.js';
import { SNOWFLAKE_SLOTS, type SnowflakeGenerator } from '../ids/snowflake.js';
import type { GuildPubSub } from '../pubsub/guild-pubsub.js';
import { registerServerWireTypes } from './dispatch-wire.js';
import { GuildHandover, type HandoverStats } from './guild-handover.js';
import { GuildPlacement, type PlacementStats } from './guild-placement.js';
import { UserCasts } from './user-casts.js';

export interface ClusterModeOptions {
  config: ClusterConfig;
  system: ActorSystem;
  pubsub: Pick<GuildPubSub, 'topic' | 'drop'>;
  tracer: Tracer;
  logger: Logger;
  /** This node's sessions by user: events aimed at a user reach their sessions on every node. */
  sessions: SessionDirectory;
  /** The store's id generator: it makes ids with the snowflake slot this node holds. */
  ids: Pick<SnowflakeGenerator, 'useSlot'>;
  /** Spawns guild:<id> here, from the store and the handoff of its previous home. */
  spawnGuild: (guildId: string, handoff: GuildHandoff | undefined) => ActorRef<GuildProtocol>;
}

export interface ClusterStats {
  node: string;
  liveNodes: number;
  placeableNodes: number;
  /** Guild leases this node holds (the guilds it owns). */
  guildsOwned: number;
  leases: { acquired: number; released: number; lost: number; conflicts: number; releaseFailures: number; handoffsDropped: number };
  handover: HandoverStats;
  placement: PlacementStats;
  nats: RemoteStats;
  membership: { heartbeats: number; heartbeatFailures: number; changes: number };
  /** The snowflake slot this node makes ids with, and how often it was lost. */
  ids: SnowflakeSlotStats;
}

export class ClusterMode {
  readonly node: string;
  readonly placement: GuildPlacement;
  readonly handover: GuildHandover;
  private readonly userCasts: UserCasts;
  private membership: Membership | undefined;
  private readonly unsubscribers: (() => void)[] = [];
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly options: ClusterModeOptions,
    private readonly nats: NatsConnection,
    readonly router: NatsRemoteRouter,
    readonly leases: LeaseTable,
    private readonly slots: SnowflakeSlots,
  ) {
    const { system } = options;
    this.node = system.node;
    this.placement = new GuildPlacement({
      system,
      leases,
      // A node the router already knows is down (it said goodbye, or stopped beating) is out before membership's scan drops it.
      nodes: () => (this.membership?.placeable() ?? []).filter((id) => !router.isDown(id)),
      spawn: options.spawnGuild,
      onError: (err, what, guildId) => options.logger.warn({ err, guild: guildId, what }, 'guild placement failed'),
    });
    this.handover = new GuildHandover({ system, placement: this.placement, pubsub: options.pubsub, tracer: options.tracer, logger: options.logger });
    system.activator = this.placement;
    this.userCasts = new UserCasts(nats, options.config.name, this.node, options.sessions);
    this.unsubscribers.push(leases.onLost((key, reason) => this.handover.lost(key, reason)));
  }

  /** Connects to NATS and starts the router and the lease table; the node is not placeable until `join`. */
  static async start(options: ClusterModeOptions): Promise<ClusterMode> {
    const { config, system, logger } = options;
    if (system.node !== config.nodeId) throw new Error(`the actor system's node (${system.node}) must be the cluster node id (${config.nodeId})`);
    registerServerWireTypes();
    const nats = await connectNats({
      servers: config.natsUrl,
      name: config.nodeId,
      onStatus: (s) => logger.warn({ nats: s.type }, s.type === 'disconnect' ? 'NATS connection lost: reconnecting' : 'NATS connection back'),
    });
    try {
      // Node liveness for calls and monitors: the same bound as membership's entry expiry.
      const router = await new NatsRemoteRouter({ system, nats, prefix: config.name, heartbeatMs: Math.max(100, Math.floor(config.nodeTtlMs / 3)), downAfterMs: config.nodeTtlMs }).start();
      const leases = await LeaseTable.open({ nats, cluster: config.name, node: config.nodeId, ttlMs: config.leaseTtlMs, onError: (err) => logger.warn({ err }, 'guild lease table') });
      // Before anything is served: ids made on two nodes must never be the same.
      const slots = await SnowflakeSlots.claim({
        nats,
        cluster: config.name,
        node: config.nodeId,
        slots: SNOWFLAKE_SLOTS,
        ttlMs: config.leaseTtlMs,
        use: (slot) => {
          options.ids.useSlot(slot);
          logger.info({ slot }, 'snowflake slot claimed');
        },
        onError: (err) => logger.warn({ err }, 'snowflake slot lost; claiming one again'),
      }).catch(async (err: unknown) => {
        await leases.close();
        throw err;
      });
      return new ClusterMode(options, nats, router, leases, slots);
    } catch (err) {
      await nats.close().catch(() => {});
      throw err;
    }
  }

  /** Joins membership with this node's public URL: from now on guilds are placed here, and move when the live set changes. */
  async join(url: string): Promise<void> {
    const { config, logger } = this.options;
    const membership = await Membership.join({
      nats: this.nats,
      cluster: config.name,
      self: { id: config.nodeId, url },
      ttlMs: config.nodeTtlMs,
      onError: (err) => logger.warn({ err }, 'cluster membership'),
    });
    this.membership = membership;
    this.unsubscribers.push(
      membership.onChange((live) => {
        logger.info({ live: live.map((n) => `${n.id}${n.state === 'draining' ? ' (draining)' : ''}`) }, 'cluster membership changed');
        void this.handover.rebalance();
      }),
    );
    // Guilds started before the first scan saw every node (none, normally) go where they belong.
    void this.handover.rebalance();
  }

  /** The ref of guild:<id> on its home node. */
  guild(guildId: string): ActorRef<GuildProtocol> {
    return this.placement.ref(guildId);
  }

  /** Live nodes, sorted by id (draining ones included). */
  live(): readonly NodeInfo[] {
    return this.membership?.live() ?? [];
  }

  /** The membership (undefined before `join`): the sessions helper's drain marks the node draining through it. */
  get members(): Membership | undefined {
    return this.membership;
  }

  /**
   * Hands every guild running here over to its next home and starts no other
   * (SIGTERM). Marks this node draining in membership first, so other nodes
   * stop placing guilds here.
   */
  async drainGuilds(): Promise<void> {
    await this.membership?.drain().catch((err: unknown) => this.options.logger.warn({ err }, 'membership drain failed'));
    await this.handover.drainAll();
  }

  stats(): ClusterStats {
    const live = this.membership?.live() ?? [];
    const l = this.leases.stats;
    const m = this.membership?.stats;
    return {
      node: this.node,
      liveNodes: live.length,
      placeableNodes: this.membership?.placeable().length ?? 0,
      guildsOwned: this.leases.held().length,
      leases: { acquired: l.acquired, released: l.released, lost: l.lost, conflicts: l.conflicts, releaseFailures: l.releaseFailures, handoffsDropped: l.handoffsDropped },
      handover: { ...this.handover.stats },
      placement: { ...this.placement.stats },
      nats: { ...this.router.stats },
      membership: { heartbeats: m?.heartbeats ?? 0, heartbeatFailures: m?.heartbeatFailures ?? 0, changes: m?.changes ?? 0 },
      ids: this.slots.stats,
    };
  }

  /**
   * Leaves the cluster: hands the guilds over (a clean stop moves them at
   * once, without waiting for lease expiry), leaves membership, stops the
   * router and closes the connection. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const { logger } = this.options;
      await this.drainGuilds();
      for (const off of this.unsubscribers.splice(0)) off();
      await this.membership?.leave().catch((err: unknown) => logger.warn({ err }, 'membership leave failed'));
      await this.leases.close().catch((err: unknown) => logger.warn({ err }, 'lease table close failed'));
      await this.slots.close().catch((err: unknown) => logger.warn({ err }, 'snowflake slot table close failed'));
      if (this.options.system.activator === this.placement) this.options.system.activator = undefined;
      this.userCasts.close();
      await this.router.close().catch((err: unknown) => logger.warn({ err }, 'router close failed'));
      await this.nats.drain().catch(() => this.nats.close());
    })();
    return this.closing;
  }
}
