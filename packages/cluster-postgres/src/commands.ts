// Cluster commands (prune, clean, clear on every node, a result row per node). One file,
// about 300 lines, on purpose: issuing, claiming, running and reporting share one table's rules.
import type pg from 'pg';
import type { Listener } from './listener.js';
import type { MembershipLogger } from './membership.js';
import { ReplayLoop } from './replay-loop.js';

/** The LISTEN/NOTIFY channel that wakes nodes up when a command is issued. */
export const COMMANDS_CHANNEL = 'imgcache_commands';

/** What a cluster command does on each node: prune to the budget, clean work files, or clear the cache. */
export const COMMAND_KINDS = ['prune', 'clean', 'clear'] as const;
export type CommandKind = (typeof COMMAND_KINDS)[number];

/**
 * One node's part of a command, as a caller sees it: `pending` (not picked up yet),
 * `running`, `ok`, `failed` (it ran and failed, or was interrupted by a restart), `dead`
 * (the node left or went silent before it answered) or `timed_out` (the deadline passed
 * first). Only `ok` is a success.
 */
export type NodeCommandStatus = 'pending' | 'running' | 'ok' | 'failed' | 'dead' | 'timed_out';

const FINAL: ReadonlySet<NodeCommandStatus> = new Set(['ok', 'failed', 'dead', 'timed_out']);

/** One targeted node's result row. */
export interface NodeCommandResult {
  nodeId: string;
  /** The node's advertised URL; null once its row is gone. */
  url: string | null;
  status: NodeCommandStatus;
  /** What the node did (counts, bytes), once `ok`. */
  result: Record<string, number> | null;
  error: string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** A command and every targeted node's part of it. */
export interface CommandRecord {
  id: number;
  kind: CommandKind;
  args: Record<string, unknown>;
  /** The node it was issued on. */
  issuedBy: string;
  createdAt: Date;
  /** After it, a node that has not answered counts as `timed_out`. */
  deadline: Date;
  /** Every node's part is final. */
  done: boolean;
  /** Done, and every node's part is `ok`. */
  ok: boolean;
  results: NodeCommandResult[];
}

/** Options of {@link ClusterCommands}. */
export interface ClusterCommandsOptions {
  pool: pg.Pool;
  /** The node's LISTEN connection; commands wake it up through {@link COMMANDS_CHANNEL}. */
  listener: Listener;
  nodeId: string;
  /**
   * Runs a command on this node.
   * @returns what it did (counts, bytes); a throw records the command as failed here.
   */
  run: (kind: CommandKind, args: Record<string, unknown>) => Promise<Record<string, number>>;
  /** Milliseconds between replays when no notification comes (a lost one costs at most this). */
  replayMs: number;
  /** A target silent for this long counts as dead (the membership's dead-after time). */
  deadAfterMs: number;
  logger: MembershipLogger;
}

/** Commands are kept this long after they were issued. */
const KEEP_DAYS = 7;

/**
 * Cluster commands in `imgcache_commands`: issued on any node for every node active at
 * that moment, each writing its own row in `imgcache_command_results`. A node runs the
 * commands meant for it when notified, when its listener reconnects and every `replayMs`
 * (so a missed notification only delays it); it claims each with one
 * `INSERT … ON CONFLICT DO NOTHING`, so it runs it once even when replays overlap.
 */
export class ClusterCommands {
  private readonly loop: ReplayLoop;
  /** Set once start() closed what an earlier run of this node left running: passes wait for it. */
  private started = false;
  /** Results not written yet (the database was away when the command ended). */
  private readonly unreported = new Map<
    number,
    { status: 'ok' | 'failed'; result: Record<string, number> | null; error: string | null }
  >();

  constructor(private readonly options: ClusterCommandsOptions) {
    this.loop = new ReplayLoop(() => this.replayOnce(), options.replayMs);
    options.listener.on(COMMANDS_CHANNEL, () => void this.replay().catch(() => undefined));
  }

  /**
   * Issues a command for every active node (those on the ring by the database's clock),
   * and wakes them up.
   * @param timeoutMs how long nodes have to answer before they count as `timed_out`.
   * @returns the command's id.
   * @throws the driver's error when the database cannot be reached.
   */
  async issue(kind: CommandKind, args: Record<string, unknown>, timeoutMs: number): Promise<number> {
    const { rows } = await this.options.pool.query<{ id: string }>(
      `WITH issued AS (
         INSERT INTO imgcache_commands (kind, args, issued_by, targets, deadline)
         SELECT $1, $2, $3, coalesce(array_agg(node_id ORDER BY node_id), '{}'), now() + $4 * interval '1 millisecond'
         FROM imgcache_nodes WHERE state = 'active' AND heartbeat_at > now() - $5 * interval '1 millisecond'
         RETURNING id)
       SELECT id, pg_notify('${COMMANDS_CHANNEL}', id::text) FROM issued`,
      [kind, JSON.stringify(args), this.options.nodeId, timeoutMs, this.options.deadAfterMs],
    );
    return Number(rows[0]!.id);
  }

  /**
   * A command with every targeted node's part, or undefined when there is no such command.
   * @throws the driver's error.
   */
  async get(id: number): Promise<CommandRecord | undefined> {
    return (await this.read('c.id = $1', [id]))[0];
  }

  /**
   * The latest commands, newest first.
   * @throws the driver's error.
   */
  async list(limit = 20): Promise<CommandRecord[]> {
    return this.read('c.id IN (SELECT id FROM imgcache_commands ORDER BY id DESC LIMIT $1)', [limit]);
  }

  /**
   * Waits until every node's part of a command is final, or `waitMs` passed (reading
   * every `pollMs`), and returns the command as it then is.
   * @throws the driver's error.
   */
  async wait(id: number, waitMs: number, pollMs = 200): Promise<CommandRecord | undefined> {
    const until = Date.now() + waitMs;
    for (;;) {
      const command = await this.get(id);
      if (!command || command.done || Date.now() + pollMs > until) return command;
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  /**
   * Marks this node's parts left `running` by an earlier run of it as failed (it was
   * restarted in the middle), then starts the periodic replay; the first runs at once.
   */
  async start(): Promise<void> {
    await this.options.pool
      .query(
        `UPDATE imgcache_command_results SET status = 'failed', error = 'interrupted: the node restarted', finished_at = now() WHERE node_id = $1 AND status = 'running'`,
        [this.options.nodeId],
      )
      .catch((error: unknown) =>
        this.options.logger.warn(
          { err: (error as Error).message },
          'could not close the commands a restart interrupted',
        ),
      );
    if (this.loop.closed) return;
    this.started = true;
    this.loop.start();
  }

  /**
   * Runs the commands meant for this node that it has not answered (concurrent calls are
   * folded into one more pass); nothing before {@link start}.
   * @throws the driver's error when the database cannot be reached.
   */
  replay(): Promise<void> {
    // Before start(), a part this instance claimed would look like one an earlier run left.
    if (!this.started) return Promise.resolve();
    return this.loop.run();
  }

  /** Stops replaying; a command running here finishes and reports first. */
  async close(): Promise<void> {
    await this.loop.stop();
  }

  private async replayOnce(): Promise<void> {
    const { pool, nodeId, logger } = this.options;
    await this.report();
    const { rows } = await pool.query<{ id: string; kind: CommandKind; args: Record<string, unknown> }>(
      `SELECT c.id, c.kind, c.args FROM imgcache_commands c
       WHERE $1 = ANY (c.targets) AND c.deadline > now()
         AND NOT EXISTS (SELECT 1 FROM imgcache_command_results r WHERE r.command_id = c.id AND r.node_id = $1)
       ORDER BY c.id`,
      [nodeId],
    );
    for (const row of rows) {
      if (this.loop.closed) return;
      const id = Number(row.id);
      const claimed = await pool.query(
        `INSERT INTO imgcache_command_results (command_id, node_id, status) VALUES ($1, $2, 'running') ON CONFLICT DO NOTHING RETURNING command_id`,
        [id, nodeId],
      );
      if (claimed.rowCount === 0) continue;
      logger.info({ command: id, kind: row.kind }, 'running a cluster command');
      try {
        this.unreported.set(id, { status: 'ok', result: await this.options.run(row.kind, row.args), error: null });
      } catch (error) {
        logger.warn({ command: id, kind: row.kind, err: (error as Error).message }, 'cluster command failed');
        this.unreported.set(id, { status: 'failed', result: null, error: (error as Error).message });
      }
      await this.report();
    }
    await pool.query(`DELETE FROM imgcache_commands WHERE created_at < now() - interval '${KEEP_DAYS} days'`);
  }

  /** Writes the results of commands that ended here; kept for the next pass when the database is away. */
  private async report(): Promise<void> {
    for (const [id, outcome] of this.unreported) {
      await this.options.pool.query(
        // Only a part still running: one sealed dead or timed out (see seal) stays as reported.
        `UPDATE imgcache_command_results SET status = $3, result = $4, error = $5, finished_at = now() WHERE command_id = $1 AND node_id = $2 AND status = 'running'`,
        [
          id,
          this.options.nodeId,
          outcome.status,
          outcome.result === null ? null : JSON.stringify(outcome.result),
          outcome.error,
        ],
      );
      this.unreported.delete(id);
    }
  }

  private async read(where: string, params: unknown[]): Promise<CommandRecord[]> {
    const { rows } = await this.options.pool.query<CommandRow>(
      `SELECT c.id, c.kind, c.args, c.issued_by, c.created_at, c.deadline, c.deadline < now() AS expired,
              t.node_id, n.url, (n.node_id IS NULL OR n.state = 'dead' OR n.heartbeat_at < now() - $${params.length + 1} * interval '1 millisecond') AS gone,
              r.status, r.result, r.error, r.started_at, r.finished_at
       FROM imgcache_commands c
       LEFT JOIN LATERAL unnest(c.targets) AS t(node_id) ON true
       LEFT JOIN imgcache_nodes n ON n.node_id = t.node_id
       LEFT JOIN imgcache_command_results r ON r.command_id = c.id AND r.node_id = t.node_id
       WHERE ${where}
       ORDER BY c.id DESC, t.node_id`,
      [...params, this.options.deadAfterMs],
    );
    const commands = new Map<number, CommandRecord>();
    const derived: { id: number; nodeId: string; status: NodeCommandStatus }[] = [];
    for (const row of rows) {
      const id = Number(row.id);
      let command = commands.get(id);
      if (!command) {
        command = {
          id,
          kind: row.kind,
          args: row.args,
          issuedBy: row.issued_by,
          createdAt: row.created_at,
          deadline: row.deadline,
          done: true,
          ok: true,
          results: [],
        };
        commands.set(id, command);
      }
      if (row.node_id === null) continue;
      const status = nodeStatus(row);
      if (status !== row.status && FINAL.has(status)) derived.push({ id, nodeId: row.node_id, status });
      command.results.push({
        nodeId: row.node_id,
        url: row.url,
        status,
        result: row.result,
        error: row.error,
        startedAt: row.started_at,
        finishedAt: row.finished_at,
      });
      command.done &&= FINAL.has(status);
      command.ok &&= status === 'ok';
    }
    // A command no node was there to run has succeeded nowhere.
    for (const command of commands.values()) command.ok &&= command.done && command.results.length > 0;
    await this.seal(derived.filter((part) => commands.get(part.id)?.done));
    return [...commands.values()];
  }

  /**
   * Writes the dead and timed-out parts of a command reported done, so the report stays
   * true: a node that comes back (a paused process, a restart) finds its part answered and
   * neither runs it nor overwrites it with a later result.
   */
  private async seal(parts: { id: number; nodeId: string; status: NodeCommandStatus }[]): Promise<void> {
    for (const part of parts) {
      await this.options.pool.query(
        `INSERT INTO imgcache_command_results (command_id, node_id, status, finished_at) VALUES ($1, $2, $3, now())
         ON CONFLICT (command_id, node_id) DO UPDATE SET status = EXCLUDED.status, finished_at = EXCLUDED.finished_at
         WHERE imgcache_command_results.status = 'running'`,
        [part.id, part.nodeId, part.status],
      );
    }
  }
}

interface CommandRow {
  id: string;
  kind: CommandKind;
  args: Record<string, unknown>;
  issued_by: string;
  created_at: Date;
  deadline: Date;
  expired: boolean;
  node_id: string | null;
  url: string | null;
  gone: boolean;
  status: 'running' | 'ok' | 'failed' | 'dead' | 'timed_out' | null;
  result: Record<string, number> | null;
  error: string | null;
  started_at: Date | null;
  finished_at: Date | null;
}

/** A node's part: its own final answer, else dead (left or silent), else timed out, else running or pending. */
function nodeStatus(row: CommandRow): NodeCommandStatus {
  if (row.status !== null && row.status !== 'running') return row.status;
  if (row.gone) return 'dead';
  if (row.expired) return 'timed_out';
  return row.status === 'running' ? 'running' : 'pending';
}
