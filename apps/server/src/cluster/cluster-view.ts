import type { Cluster, Holdings } from '@imgcache/cluster-postgres';

/** `GET /v2/cache?scope=cluster`: every node with its health and holdings. */
export interface ClusterView {
  node_id: string;
  database: { connected: boolean; last_contact: number | null };
  nodes: {
    node_id: string;
    url: string;
    state: string;
    weight: number;
    on_ring: boolean;
    heartbeat_age_s: number;
    cached_images: number;
    cached_bytes: number;
    /** Fills in progress on the node. */
    filling_images: number;
  }[];
}

/**
 * The cluster as this node sees it: every node row it last read (the ring it places images
 * on, heartbeat ages by the database's clock) with the node's published holdings. Holdings
 * read as empty when the database cannot be reached; `database.connected` then says so.
 */
export async function clusterView(cluster: Cluster, holdings: Holdings): Promise<ClusterView> {
  const { membership } = cluster;
  const totals = new Map((await holdings.totals().catch(() => [])).map((total) => [total.nodeId, total]));
  const ring = new Set(membership.ring().map((member) => member.nodeId));
  return {
    node_id: cluster.nodeId,
    database: {
      connected: membership.connected,
      last_contact: membership.lastContact ? membership.lastContact / 1000 : null,
    },
    nodes: membership.members().map((member) => ({
      node_id: member.nodeId,
      url: member.url,
      state: member.state,
      weight: member.weight,
      on_ring: ring.has(member.nodeId),
      heartbeat_age_s: member.heartbeatAgeMs / 1000,
      cached_images: totals.get(member.nodeId)?.images ?? 0,
      cached_bytes: totals.get(member.nodeId)?.bytes ?? 0,
      filling_images: totals.get(member.nodeId)?.filling ?? 0,
    })),
  };
}
