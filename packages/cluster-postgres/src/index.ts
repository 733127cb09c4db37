export { joinCluster, type Cluster, type ClusterOptions } from './cluster.js';
export { ClusterError, type ClusterErrorCode } from './errors.js';
export {
  DEFAULT_TIMINGS,
  Membership,
  type Member,
  type MembershipLogger,
  type MembershipTimings,
  type NodeState,
} from './membership.js';
export { MIGRATIONS, SCHEMA_VERSION, migrate } from './migrations.js';
export { NODE_ID_FILE, loadNodeId } from './node-identity.js';
export { ownerOf, rankFor, rendezvousScore, type PlacementNode } from './placement.js';
export { Holdings, type Holder, type Holding, type HoldingState, type NodeHoldings } from './holdings.js';
export { PURGE_CHANNEL, PurgeLog, type PurgeLogOptions } from './purge-log.js';
export { JOBS_CHANNEL, PrefetchJobs, type JobTarget } from './jobs.js';
export { Listener } from './listener.js';
export { FillLeases, type LeaseClaim, type LeaseHolder } from './fill-leases.js';
export {
  COMMANDS_CHANNEL,
  COMMAND_KINDS,
  ClusterCommands,
  type ClusterCommandsOptions,
  type CommandKind,
  type CommandRecord,
  type NodeCommandResult,
  type NodeCommandStatus,
} from './commands.js';
