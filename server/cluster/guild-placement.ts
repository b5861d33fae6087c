// Where a guild runs in cluster mode, and how it starts there.
//
// - A guild's home is rendezvousHome(guildId, placeable nodes): every node
//   computes the same answer from the same live set (cluster/placement.ts).
// - `ref(guildId)` is the ref of `guild:<id>` on its home; calls go through
//   askGuild, which retries GUILD_MOVING refusals with a bounded backoff.
// - On the home node a call for a guild that is not running reaches the
//   activator (ActorSystem.deliver's miss path): it acquires the guild's lease
//   (cluster/leases.ts), then spawns the guild from PostgreSQL and the handoff
//   its previous home left in the lease, then delivers the calls that waited,
//   in order. A lease held elsewhere, a home that moved meanwhile, or a
//   draining node: every waiting call is answered GUILD_MOVING (nothing was
//   done, so the caller may try again).
// - When a guild stops here for any reason, its lease is released (a handover
//   releases it first, with the handoff).
import type { Activator, ActorRef, ActorSystem, Address, MessageOp, PendingReply } from '../../actors/index.js';
import { rendezvousHome } from '../../cluster/index.js';
import { handoffSchema } from './guild-handoff.js';
import { GUILD_MOVING, type GuildHandoff, type GuildProtocol, guildKey } from '../guild/guild-protocol.js';

export const GUILD_KEY_PREFIX = guildKey('');

/** What placement needs of the lease table (cluster/leases.ts LeaseTable). */
export interface GuildLeases {
  acquire(key: string): Promise<{ ok: true; handoff: unknown } | { ok: false; holder: string }>;
  release(key: string, handoff?: unknown): Promise<void>;
  holds(key: string): boolean;
}

export interface GuildPlacementOptions {
  system: ActorSystem;
  leases: GuildLeases;
  /** Ids of the nodes guilds may live on (Membership.placeable()); empty before this node joined. */
  nodes: () => readonly string[];
  /** Spawns the guild actor under guildKey(guildId), starting from the store and the handoff. */
  spawn: (guildId: string, handoff: GuildHandoff | undefined) => ActorRef<GuildProtocol>;
  onError: (err: unknown, what: string, guildId: string) => void;
}

interface Waiting {
  op: MessageOp;
  payload: unknown;
  reply: PendingReply | undefined;
}

/** Calls held while a guild's lease is acquired; beyond this they are refused at once (and retried by their caller). */
const MAX_WAITING = 10_000;

export interface PlacementStats {
  /** Guilds started here (lease acquired, actor spawned). */
  activations: number;
  /** Calls answered GUILD_MOVING by the activator (not home, lease elsewhere, draining). */
  refusals: number;
  /** Acquires that found the lease held by another node. */
  leaseConflicts: number;
}

export class GuildPlacement implements Activator {
  readonly node: string;
  readonly stats: PlacementStats = { activations: 0, refusals: 0, leaseConflicts: 0 };
  private readonly system: ActorSystem;
  private readonly leases: GuildLeases;
  private readonly nodes: () => readonly string[];
  private readonly spawnGuild: GuildPlacementOptions['spawn'];
  private readonly onError: GuildPlacementOptions['onError'];
  private readonly starting = new Map<string, Waiting[]>();
  private readonly releasing = new Map<string, Promise<void>>();
  private draining = false;

  constructor(options: GuildPlacementOptions) {
    this.system = options.system;
    this.node = options.system.node;
    this.leases = options.leases;
    this.nodes = options.nodes;
    this.spawnGuild = options.spawn;
    this.onError = options.onError;
  }

  /** The node that should run the guild now (this node when nothing is placeable yet). */
  home(guildId: string): string {
    return rendezvousHome(guildId, this.nodes()) ?? this.node;
  }

  /** The guild's ref on its home: a running actor here, or an address the activator (here or there) starts. */
  ref(guildId: string): ActorRef<GuildProtocol> {
    const key = guildKey(guildId);
    const home = this.home(guildId);
    if (home === this.node) return this.system.whereis<GuildProtocol>(key) ?? this.system.refFor<GuildProtocol>({ node: home, id: key, kind: 'guild' });
    return this.system.refFor<GuildProtocol>({ node: home, id: key, kind: 'guild' });
  }

  /** From now on no guild starts here (SIGTERM drain): every activation is refused. */
  drain(): void {
    this.draining = true;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Releases a guild's lease (with the handoff for its next home); a later activation here waits for it. */
  release(key: string, handoff?: GuildHandoff): Promise<void> {
    if (!this.leases.holds(key)) return this.releasing.get(key) ?? Promise.resolve();
    const done = this.leases
      .release(key, handoff)
      .catch((err: unknown) => this.onError(err, 'release', key.slice(GUILD_KEY_PREFIX.length)))
      .finally(() => {
        if (this.releasing.get(key) === done) this.releasing.delete(key);
      });
    this.releasing.set(key, done);
    return done;
  }

  // --- Activator: ActorSystem.deliver's miss path ---

  activate(target: Address, op: MessageOp, payload: unknown, reply?: PendingReply): boolean | undefined {
    if (!target.id.startsWith(GUILD_KEY_PREFIX)) return undefined;
    // A cast or info for a guild not running here is dropped, as on one node (nothing waits for it).
    if (op !== 'call') return undefined;
    const guildId = target.id.slice(GUILD_KEY_PREFIX.length);
    if (this.draining || this.home(guildId) !== this.node) return this.refuse(reply);
    let waiting = this.starting.get(target.id);
    if (waiting === undefined) {
      waiting = [];
      this.starting.set(target.id, waiting);
      void this.start(guildId, target.id, waiting);
    } else if (waiting.length >= MAX_WAITING) {
      return this.refuse(reply);
    }
    waiting.push({ op, payload, reply });
    return true;
  }

  private refuse(reply: PendingReply | undefined): false {
    this.stats.refusals++;
    reply?.resolve(GUILD_MOVING);
    return false;
  }

  private async start(guildId: string, key: string, waiting: Waiting[]): Promise<void> {
    let acquired = false;
    let handoff: unknown;
    try {
      // A release of this guild still under way (it stopped here a moment ago) finishes first.
      await this.releasing.get(key);
      const result = await this.leases.acquire(key);
      if (result.ok) {
        acquired = true;
        handoff = result.handoff;
      } else {
        this.stats.leaseConflicts++;
      }
    } catch (err) {
      this.onError(err, 'acquire', guildId);
    }
    this.starting.delete(key);
    if (acquired && (this.draining || this.home(guildId) !== this.node)) {
      // The home moved while we acquired: pass the handoff on untouched.
      await this.release(key, handoff as GuildHandoff | undefined);
      acquired = false;
    }
    if (!acquired) {
      for (const w of waiting) this.refuse(w.reply);
      return;
    }
    let ref: ActorRef<GuildProtocol>;
    try {
      ref = this.spawnGuild(guildId, handoffOf(handoff));
    } catch (err) {
      this.onError(err, 'spawn', guildId);
      await this.release(key, handoff as GuildHandoff | undefined);
      for (const w of waiting) this.refuse(w.reply);
      return;
    }
    this.stats.activations++;
    // However it stops (idle, crash, handover, lease lost), its lease goes (a no-op when already released or lost).
    this.system.monitor(ref, () => void this.release(key));
    for (const w of waiting) this.system.deliver(ref.address, w.op, w.payload, w.reply);
  }
}

/** The handoff read back from the lease entry; anything of another shape (another version's) is ignored: sessions reconnect. */
function handoffOf(value: unknown): GuildHandoff | undefined {
  if (value === undefined || value === null) return undefined;
  const parsed = handoffSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}
