// Draining a node in cluster mode (SIGTERM): no new sockets, guilds handed
// over, RECONNECT (op 7) to every client, then the node stays up answering
// other nodes' handoff calls for its sessions until each has been taken over
// elsewhere (it then stops: session-handoff.ts) or the drain timeout ends.
// docs/cluster.md, "Sessions: drain".
import type { Clock } from '../../actors/index.js';
import type { Logger } from '../context.js';
import type { GatewayServer } from './gateway-server.js';

/** What a drain needs of the cluster (server/cluster/cluster-mode.ts ClusterMode). */
export interface DrainingCluster {
  /** Marks this node draining in membership (live, not placeable), then hands every guild here over to its next home. */
  drainGuilds(): Promise<void>;
}

export interface DrainOptions {
  gateway: Pick<GatewayServer, 'stopAccepting' | 'reconnectAll'>;
  /** Sessions still on this node (the session directory). */
  sessions: { readonly size: number };
  cluster: DrainingCluster;
  /** GUILDHALL_DRAIN_TIMEOUT_MS: the whole drain, guilds and sessions. */
  timeoutMs: number;
  clock: Clock;
  logger: Pick<Logger, 'info' | 'warn'>;
}

export interface DrainResult {
  /** Sessions left when the drain ended (0: every one moved, expired or ended). */
  sessionsLeft: number;
  ms: number;
}

/** How often the drain looks at the sessions left. */
const POLL_MS = 50;

export async function drainNode(options: DrainOptions): Promise<DrainResult> {
  const { gateway, sessions, cluster, clock, logger } = options;
  const started = clock.now();
  const deadline = started + options.timeoutMs;
  const left = () => Math.max(0, deadline - clock.now());
  const sleep = (ms: number) => new Promise<void>((resolve) => clock.setTimeout(resolve, ms));

  gateway.stopAccepting();
  // Not placeable first (inside drainGuilds), so no guild is placed here while the others move away.
  await bounded(cluster.drainGuilds(), left(), clock).catch((err: unknown) => logger.warn({ err }, 'drain: guild handover failed'));
  const count = sessions.size;
  gateway.reconnectAll();
  logger.info({ sessions: count }, 'drain: guilds handed over, clients told to reconnect');
  while (sessions.size > 0 && left() > 0) await sleep(Math.min(POLL_MS, left()));
  const result = { sessionsLeft: sessions.size, ms: clock.now() - started };
  if (result.sessionsLeft > 0) logger.warn(result, 'drain: timed out with sessions not taken over');
  else logger.info(result, 'drain: every session taken over');
  return result;
}

/** `work`, or a rejection once `ms` have passed (the work itself goes on; the drain does not wait for it). */
function bounded(work: Promise<void>, ms: number, clock: Clock): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = clock.setTimeout(() => reject(new Error(`not done within ${ms} ms`)), ms);
    work.then(
      () => {
        clock.clearTimeout(timer);
        resolve();
      },
      (err: unknown) => {
        clock.clearTimeout(timer);
        reject(err);
      },
    );
  });
}
