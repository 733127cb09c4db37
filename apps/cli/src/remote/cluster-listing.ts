/** One node as `GET /v2/cache?scope=cluster` shows it. */
export interface ClusterNodeView {
  nodeId: string;
  url: string;
  state: string;
  weight: number;
  onRing: boolean;
  /** Seconds since its last heartbeat, by the database's clock. */
  heartbeatAgeS: number;
  cachedImages: number;
  cachedBytes: number;
  /** Fills in progress (0 from servers that do not report them). */
  fillingImages: number;
}

/** `GET /v2/cache?scope=cluster`: the node answering, its database link, and every node. */
export interface ClusterView {
  nodeId: string;
  databaseConnected: boolean;
  nodes: ClusterNodeView[];
}

/** One node's part of a cluster command. */
export interface ClusterCommandResult {
  nodeId: string;
  url: string | null;
  /** `pending`, `running`, `ok`, `failed`, `dead` or `timed_out`. */
  status: string;
  result: Record<string, number> | null;
  error: string | null;
}

/** A cluster command as `/v2/cache/cluster/commands/{id}` shows it. */
export interface ClusterCommand {
  id: number;
  command: string;
  done: boolean;
  ok: boolean;
  results: ClusterCommandResult[];
}

/**
 * Reads the body of `GET /v2/cache?scope=cluster`.
 * @throws {TypeError} naming the first field that does not have the expected shape; a
 * server not in a cluster answers its own listing, which has no `nodes`.
 */
export function parseClusterView(body: unknown): ClusterView {
  const record = asRecord(body, 'the body');
  if (!Array.isArray(record.nodes))
    throw new TypeError('there is no list of nodes: the server is not in a cluster (start it with --cluster)');
  const database = asRecord(record.database, 'database');
  return {
    nodeId: text(record.node_id, 'node_id'),
    databaseConnected: database.connected === true,
    nodes: record.nodes.map((entry, index) => {
      const where = `nodes[${index}]`;
      const node = asRecord(entry, where);
      return {
        nodeId: text(node.node_id, `${where}.node_id`),
        url: text(node.url, `${where}.url`),
        state: text(node.state, `${where}.state`),
        weight: number(node.weight, `${where}.weight`),
        onRing: node.on_ring === true,
        heartbeatAgeS: number(node.heartbeat_age_s, `${where}.heartbeat_age_s`),
        cachedImages: number(node.cached_images, `${where}.cached_images`),
        cachedBytes: number(node.cached_bytes, `${where}.cached_bytes`),
        fillingImages: node.filling_images === undefined ? 0 : number(node.filling_images, `${where}.filling_images`),
      };
    }),
  };
}

/**
 * Reads a cluster command.
 * @throws {TypeError} naming the first field that does not have the expected shape.
 */
export function parseClusterCommand(body: unknown): ClusterCommand {
  const record = asRecord(body, 'the body');
  if (!Array.isArray(record.results)) throw new TypeError('results is not a list');
  return {
    id: number(record.id, 'id'),
    command: text(record.command, 'command'),
    done: record.done === true,
    ok: record.ok === true,
    results: record.results.map((entry, index) => {
      const where = `results[${index}]`;
      const result = asRecord(entry, where);
      return {
        nodeId: text(result.node_id, `${where}.node_id`),
        url: typeof result.url === 'string' ? result.url : null,
        status: text(result.status, `${where}.status`),
        result:
          result.result === null || result.result === undefined
            ? null
            : (asRecord(result.result, `${where}.result`) as Record<string, number>),
        error: typeof result.error === 'string' ? result.error : null,
      };
    }),
  };
}

function asRecord(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new TypeError(`${where} is not a JSON object`);
  return value as Record<string, unknown>;
}

function text(value: unknown, where: string): string {
  if (typeof value !== 'string') throw new TypeError(`${where} is not a string`);
  return value;
}

function number(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError(`${where} is not a number`);
  return value;
}
