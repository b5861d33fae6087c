// The actor "top" (after Erlang's observer and recon): the busiest actors
// right now, computed by walking the running actors when someone asks
// (ActorSystem.loads()), never maintained per message. Guild rows carry the
// guild's name and a link to its recent traces.
import type { ActorLoadRow, ActorSystem } from '../../actors/index.js';
import { LOAD_WINDOW_MS } from '../../actors/index.js';
import { guildKey } from '../guild/guild-protocol.js';
import type { Store } from '../store/store.js';
import type { ActorSort, ActorTopQuery } from './schemas.js';

const GUILD_PREFIX = guildKey('');

export interface ActorTopRow {
  kind: string;
  /** The actor's id; for a guild, the guild id (its registry key without `guild:`). */
  id: string;
  /** The guild's name, for guild rows. */
  name?: string;
  status: string;
  depth: number;
  oldestWaitMs: number;
  perSecond: number;
  waitP99Ms: number;
  /** Milliseconds spent handling messages over the last minute. */
  busyMs: number;
  /** Milliseconds of handling per second right now (each older second counts half). */
  busyNow: number;
  handled: number;
  restarts: number;
  dropped: number;
  /** The guild's recent traces in the viewer, for guild rows. */
  traces?: string;
}

export interface ActorTop {
  /** The window rates and p99 cover, in seconds. */
  windowSeconds: number;
  sort: ActorSort;
  /** Running actors in all (before kind filter and limit). */
  running: number;
  actors: ActorTopRow[];
}

const KEYS: Record<ActorSort, (r: ActorLoadRow) => number> = {
  now: (r) => r.busyNow,
  busy: (r) => r.busyMs,
  wait_p99: (r) => r.waitP99Ms,
  depth: (r) => r.depth,
  oldest: (r) => r.oldestWaitMs,
  rate: (r) => r.perSecond,
  restarts: (r) => r.restarts,
};

/** Descending by the chosen key; ties broken by depth, then rate, so the order is stable between refreshes. */
export function rankActors(rows: readonly ActorLoadRow[], sort: ActorSort): ActorLoadRow[] {
  const key = KEYS[sort];
  return [...rows].sort((a, b) => key(b) - key(a) || b.depth - a.depth || b.perSecond - a.perSecond || (a.address.id < b.address.id ? -1 : 1));
}

export async function actorTop(system: ActorSystem, store: Store, query: ActorTopQuery): Promise<ActorTop> {
  const all = system.loads();
  const rows = rankActors(query.kind === undefined ? all : all.filter((r) => r.address.kind === query.kind), query.sort).slice(0, query.limit);
  const actors = await Promise.all(
    rows.map(async (r): Promise<ActorTopRow> => {
      const guildId = r.address.kind === 'guild' && r.address.id.startsWith(GUILD_PREFIX) ? r.address.id.slice(GUILD_PREFIX.length) : undefined;
      const row: ActorTopRow = {
        kind: r.address.kind,
        id: guildId ?? r.address.id,
        status: r.status,
        depth: r.depth,
        oldestWaitMs: round(r.oldestWaitMs),
        perSecond: round(r.perSecond),
        waitP99Ms: round(r.waitP99Ms),
        busyMs: round(r.busyMs),
        busyNow: round(r.busyNow),
        handled: r.handled,
        restarts: r.restarts,
        dropped: r.dropped,
      };
      if (guildId !== undefined) {
        // Only for the rows shown: a name lookup per guild on the page, none per message.
        const guild = await store.getGuild(guildId).catch(() => undefined);
        if (guild !== undefined) row.name = guild.name;
        row.traces = `/debug/traces?guild=${encodeURIComponent(guildId)}`;
      }
      return row;
    }),
  );
  return { windowSeconds: LOAD_WINDOW_MS / 1000, sort: query.sort, running: all.length, actors };
}

const round = (n: number) => Math.round(n * 1000) / 1000;
