// Cluster mode's metrics (GUILDHALL_NATS_URL), read at scrape time from the
// counters membership, the lease table, placement, handover and the remote
// router keep anyway. Without cluster mode none of these series exist.
import type { Registry } from 'prom-client';
import type { ClusterStats } from '../cluster/cluster-mode.js';
import { scrapedCounter, scrapedGauge } from './scrape.js';

export function registerClusterMetrics(r: Registry, read: () => ClusterStats): void {
  scrapedGauge(r, 'guildhall_cluster_live_nodes', 'Nodes in the cluster membership now (this one included; draining ones too)', [], () => read().liveNodes);
  scrapedGauge(r, 'guildhall_cluster_placeable_nodes', 'Live nodes guilds may be placed on (not draining)', [], () => read().placeableNodes);
  scrapedGauge(r, 'guildhall_cluster_guilds_owned', 'Guild leases this node holds: the guilds it serves', [], () => read().guildsOwned);
  scrapedGauge(r, 'guildhall_cluster_snowflake_slot', 'The snowflake slot (worker * 32 + process id) this node makes ids with: no two live nodes share one', [], () => read().ids.slot);
  scrapedCounter(r, 'guildhall_cluster_snowflake_slots_lost_total', 'Snowflake slots lost (not renewed in time, as when cut off from NATS) and claimed again', [], () => read().ids.lost);
  scrapedCounter(r, 'guildhall_cluster_leases_acquired_total', 'Guild leases acquired by this node', [], () => read().leases.acquired);
  scrapedCounter(r, 'guildhall_cluster_leases_lost_total', 'Guild leases lost (not renewed in time, or taken): the guild stopped at once', [], () => read().leases.lost);
  scrapedCounter(r, 'guildhall_cluster_lease_conflicts_total', 'Guild activations refused because another node held the lease', [], () => read().placement.leaseConflicts);
  scrapedCounter(r, 'guildhall_cluster_handovers_total', 'Guilds handed over to another node (lease released with a handoff)', [], () => read().handover.handovers);
  scrapedCounter(
    r,
    'guildhall_cluster_handoffs_dropped_total',
    'Handovers whose subscriber list did not reach the next home (the guild gave none, the release failed, or the handoff was past 16 MiB or expired before it was read): those sessions are told the guild is unavailable and subscribe again',
    [],
    () => {
      const s = read();
      return s.handover.withoutHandoff + s.leases.releaseFailures + s.leases.handoffsDropped;
    },
  );
  scrapedCounter(r, 'guildhall_cluster_guild_refusals_total', 'Guild calls answered GUILD_MOVING here (retried by the caller)', [], () => read().placement.refusals);
  scrapedCounter(r, 'guildhall_cluster_nats_messages_total', 'NATS messages with actor frames, by direction (heartbeats not counted)', ['direction'], () => {
    const n = read().nats;
    return [
      [{ direction: 'sent' }, n.framesSent],
      [{ direction: 'received' }, n.framesReceived],
    ];
  });
  scrapedCounter(
    r,
    'guildhall_cluster_frames_refused_total',
    'NATS frames from other nodes this node dropped or held, by reason: another wire version (a node of an incompatible release), unreadable, naming a target list this node did not hold (held until the sender sent it again), broadcasts dropped because that list was gone',
    ['reason'],
    () => {
      const n = read().nats;
      return [
        [{ reason: 'version' }, n.refusedVersion],
        [{ reason: 'malformed' }, n.malformed],
        [{ reason: 'unknown_list' }, n.unknownLists],
        [{ reason: 'list_lost' }, n.listsLost],
      ];
    },
  );
  scrapedCounter(r, 'guildhall_cluster_nats_bytes_total', 'Bytes of those NATS messages (frame bodies), by direction', ['direction'], () => {
    const n = read().nats;
    return [
      [{ direction: 'sent' }, n.bytesSent],
      [{ direction: 'received' }, n.bytesReceived],
    ];
  });
}
