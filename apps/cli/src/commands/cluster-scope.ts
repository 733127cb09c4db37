import { Option, type Command } from 'commander';
import { allowRemote, type CommandContext } from '../context.js';
import { OperationFailedError, RemoteRequestError, UsageError } from '../errors.js';
import { formatSize } from '../format/format-size.js';
import type { ClusterCommand, ClusterView } from '../remote/cluster-listing.js';
import type { ManagementClient } from '../remote/management-client.js';

/** The longest a single wait asks the server to hold a request, in seconds (the server's own limit is 60). */
const WAIT_S = 20;

/**
 * Adds `--scope <node|cluster>` to a command that, with `--url` and `--scope cluster`,
 * works on every node of the server's cluster (and only then, when `onlyClusterRemote`:
 * the command is otherwise local-only).
 */
export function addScopeOption(command: Command, onlyClusterRemote: boolean): Command {
  command.addOption(
    new Option('--scope <scope>', 'with --url: this node, or every node of its cluster')
      .choices(['node', 'cluster'])
      .default('node'),
  );
  return onlyClusterRemote ? allowRemote(command, (options) => options.scope === 'cluster') : allowRemote(command);
}

/**
 * The server to ask for the cluster, when the command runs with `--scope cluster`.
 * @returns undefined for `--scope node`.
 * @throws {UsageError} for `--scope cluster` without a server URL.
 */
export function clusterClient(context: CommandContext, scope: string | undefined): ManagementClient | undefined {
  if (scope !== 'cluster') return undefined;
  if (!context.remote) throw new UsageError('--scope cluster needs --url: the URL of any node of the cluster');
  return context.remote;
}

/** Prints every node of the cluster: state, ring, heartbeat, holdings (JSON: the view as parsed). */
export function printClusterView(context: CommandContext, view: ClusterView): void {
  const { out } = context;
  out.data(view);
  const onRing = view.nodes.filter((node) => node.onRing).length;
  const images = view.nodes.reduce((sum, node) => sum + node.cachedImages, 0);
  const bytes = view.nodes.reduce((sum, node) => sum + node.cachedBytes, 0);
  out.line(
    `Cluster of ${view.nodes.length} node${view.nodes.length === 1 ? '' : 's'}, ${onRing} on the ring; ${images} cached image${images === 1 ? '' : 's'} (${formatSize(bytes)}) in all` +
      `${view.databaseConnected ? '' : '; the answering node cannot reach the database (last known view)'}:`,
  );
  out.table(
    [
      { header: 'NODE' },
      { header: 'URL' },
      { header: 'STATE' },
      { header: 'RING' },
      { header: 'HEARTBEAT', align: 'right' },
      { header: 'IMAGES', align: 'right' },
      { header: 'SIZE', align: 'right' },
      { header: 'FILLING', align: 'right' },
    ],
    view.nodes.map((node) => [
      node.nodeId === view.nodeId ? `${node.nodeId} *` : node.nodeId,
      node.url,
      node.state,
      node.onRing ? 'yes' : 'no',
      `${node.heartbeatAgeS.toFixed(1)} s ago`,
      String(node.cachedImages),
      formatSize(node.cachedBytes),
      String(node.fillingImages),
    ]),
  );
}

/**
 * Issues a cluster command on the server, waits until every node's part has ended (each
 * wait bounded by `--timeout`), and prints a line per node.
 * @throws {OperationFailedError} (after printing) when a node did not succeed: failed, dead or timed out.
 * @throws {RemoteRequestError} when a request fails; a clear message when the server is not in a cluster.
 */
export async function runOnCluster(
  context: CommandContext,
  client: ManagementClient,
  kind: string,
  query: Record<string, string> = {},
): Promise<ClusterCommand> {
  let command: ClusterCommand;
  try {
    command = await client.issueClusterCommand(kind, query);
  } catch (error) {
    if (error instanceof RemoteRequestError && error.status === 404) {
      throw new RemoteRequestError(
        // Not the management API's missing token: the management routes are there, this one is not.
        `the server at ${client.location} has no cluster commands (404): it is not in a cluster (start it with --cluster), or predates them`,
        404,
        { cause: error },
      );
    }
    throw error;
  }
  // Leave the request a margin of its --timeout: the server answers when the wait ends.
  const wait = Math.max(1, Math.min(WAIT_S, Math.floor(client.timeout) - 5));
  // Each node's part ends by the command's deadline at the latest, so this loop ends too.
  while (!command.done) command = await client.clusterCommand(command.id, wait);
  const { out } = context;
  out.data(command);
  const succeeded = command.results.filter((result) => result.status === 'ok').length;
  out.line(
    `Cluster command ${command.id} (${kind}): ${succeeded} of ${command.results.length} node${command.results.length === 1 ? '' : 's'} succeeded.`,
  );
  out.table(
    [{ header: 'NODE' }, { header: 'URL' }, { header: 'STATUS' }, { header: 'RESULT' }],
    command.results.map((result) => [
      result.nodeId,
      result.url ?? '-',
      result.status,
      result.error ?? describeResult(result.result),
    ]),
  );
  const failed = command.results.filter((result) => result.status !== 'ok');
  if (failed.length > 0)
    throw new OperationFailedError(
      `${kind} did not succeed on ${failed.map((result) => `${result.nodeId} (${result.status})`).join(', ')}`,
    );
  return command;
}

function describeResult(result: Record<string, number> | null): string {
  if (!result) return '-';
  return Object.entries(result)
    .map(([key, value]) => (key === 'bytes' ? `${key} ${formatSize(value)}` : `${key} ${value}`))
    .join(', ');
}
