import { Counter, Gauge, type Registry } from 'prom-client';
import type { Membership } from '@imgcache/cluster-postgres';

/** The cluster's Prometheus metrics, in the server's registry. */
export class ClusterMetrics {
  /** Image fetches from an owner, by owner node id and the owner's status. */
  readonly peerFetches: Counter<'peer' | 'status'>;
  /** Misses that went to the origin although another node owns the image, by why. */
  readonly originFallbacks: Counter<'reason'>;
  /** Misses streamed from the node holding the image's fill lease (the owner could not serve). */
  readonly leaseJoins: Counter;

  constructor(registry: Registry, membership: Membership) {
    const registers = [registry];
    this.peerFetches = new Counter({
      name: 'imgcache_cluster_peer_fetches_total',
      help: 'Images fetched from their owner node, by owner and status',
      labelNames: ['peer', 'status'],
      registers,
    });
    this.originFallbacks = new Counter({
      name: 'imgcache_cluster_origin_fallbacks_total',
      help: 'Misses of images owned by another node that went to the origin, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.leaseJoins = new Counter({
      name: 'imgcache_cluster_lease_joins_total',
      help: 'Misses streamed from the node holding the fill lease, the owner being unable to serve',
      registers,
    });
    for (const reason of ['unreachable', 'owner_error', 'peer_refused', 'resumed'])
      this.originFallbacks.inc({ reason }, 0);
    new Gauge({
      name: 'imgcache_cluster_nodes',
      help: 'Nodes of the cluster as this node last read them, by state (active counts only nodes on the ring)',
      labelNames: ['state'],
      registers,
      collect() {
        const members = membership.members();
        this.set({ state: 'active' }, membership.ring().length);
        for (const state of ['joining', 'draining', 'dead'] as const)
          this.set({ state }, members.filter((member) => member.state === state).length);
      },
    });
    new Gauge({
      name: 'imgcache_cluster_database_up',
      help: '1 when the last heartbeat reached the cluster database, else 0',
      registers,
      collect() {
        this.set(membership.connected ? 1 : 0);
      },
    });
  }
}
