import { COMMAND_KINDS, type ClusterCommands, type CommandKind, type CommandRecord } from '@imgcache/cluster-postgres';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createAdminGuard } from '../admin-auth.js';
import { sendError } from '../respond.js';

/** Path of the cluster commands; two segments, so it never shadows an image id of `/v2/cache/{id}`. */
export const COMMANDS_PATH = '/v2/cache/cluster/commands';

/** Seconds nodes have to answer a command, unless the caller says otherwise (a prune of a large cache takes a while). */
export const DEFAULT_COMMAND_TIMEOUT_S = 600;
/** Longest deadline a caller may set, in seconds (one day). */
const MAX_COMMAND_TIMEOUT_S = 86_400;
/** Longest a `GET ?wait=` holds the request, in seconds: a proxy in between may cut longer ones. */
export const MAX_WAIT_S = 60;

/** What `clear` may empty, as Glance's `x-image-cache-clear-target` (empty: both). */
const CLEAR_TARGETS = ['', 'cache', 'queue'];

type Query = Record<string, string | undefined>;

/**
 * The cluster commands API (admin):
 * - `POST /v2/cache/cluster/commands?command=prune|clean|clear[&target=cache|queue][&timeout=<s>]`
 *   issues the command for every active node: 202 with the command and a `Location`.
 * - `GET /v2/cache/cluster/commands/{id}[?wait=<s>]` answers the command with each node's
 *   part, after waiting up to `wait` seconds (at most {@link MAX_WAIT_S}) for every part to end.
 * - `GET /v2/cache/cluster/commands` lists the latest 20, newest first.
 * A 503 says the cluster database cannot be reached.
 */
export function registerCommandRoutes(
  app: FastifyInstance,
  commands: ClusterCommands,
  adminToken: string | undefined,
  afterIssue: () => void,
): void {
  const guard = createAdminGuard(adminToken);
  const json = (reply: FastifyReply, status: number, body: unknown, headers: Record<string, string> = {}) =>
    reply.code(status).headers(headers).type('application/json').send(JSON.stringify(body));
  const unreachable = (reply: FastifyReply, error: unknown) =>
    sendError(reply, 503, `The cluster database cannot be reached (${(error as Error).message}).`);

  const collection = async (request: FastifyRequest<{ Querystring: Query }>, reply: FastifyReply) => {
    if (!guard(request, reply)) return reply;
    if (request.method === 'GET') {
      try {
        return json(reply, 200, { commands: (await commands.list()).map(commandJson) });
      } catch (error) {
        return unreachable(reply, error);
      }
    }
    if (request.method !== 'POST')
      return sendError(reply, 405, `Method ${request.method} is not allowed on ${COMMANDS_PATH}.`, {
        allow: 'GET, POST',
      });
    const query = request.query;
    const kind = query.command ?? '';
    if (!(COMMAND_KINDS as readonly string[]).includes(kind))
      return sendError(
        reply,
        400,
        `command must be one of ${COMMAND_KINDS.join(', ')}, not ${JSON.stringify(kind.slice(0, 40))}.`,
      );
    const args: Record<string, unknown> = {};
    if (query.target !== undefined) {
      const target = query.target.trim().toLowerCase();
      if (kind !== 'clear' || !CLEAR_TARGETS.includes(target))
        return sendError(reply, 400, 'target is for clear only, and must be "cache", "queue" or empty.');
      args.target = target;
    }
    const timeout = seconds(query.timeout, DEFAULT_COMMAND_TIMEOUT_S, MAX_COMMAND_TIMEOUT_S);
    if (timeout === null)
      return sendError(reply, 400, `timeout must be a number of seconds from 1 to ${MAX_COMMAND_TIMEOUT_S}.`);
    let record: CommandRecord | undefined;
    try {
      const id = await commands.issue(kind as CommandKind, args, timeout * 1000);
      afterIssue();
      record = await commands.get(id);
    } catch (error) {
      return unreachable(reply, error);
    }
    return json(reply, 202, commandJson(record!), { location: `${COMMANDS_PATH}/${record!.id}` });
  };

  const one = async (request: FastifyRequest<{ Params: { id: string }; Querystring: Query }>, reply: FastifyReply) => {
    if (!guard(request, reply)) return reply;
    if (request.method !== 'GET')
      return sendError(reply, 405, `Method ${request.method} is not allowed on ${COMMANDS_PATH}/{id}.`, {
        allow: 'GET',
      });
    const { id } = request.params;
    if (!/^\d{1,15}$/.test(id))
      return sendError(reply, 400, `A command id is a whole number, not ${JSON.stringify(id.slice(0, 40))}.`);
    const wait = seconds(request.query.wait, 0, MAX_WAIT_S, true);
    if (wait === null) return sendError(reply, 400, `wait must be a number of seconds from 0 to ${MAX_WAIT_S}.`);
    let record: CommandRecord | undefined;
    try {
      record = wait > 0 ? await commands.wait(Number(id), wait * 1000) : await commands.get(Number(id));
    } catch (error) {
      return unreachable(reply, error);
    }
    if (!record) return sendError(reply, 404, `No cluster command ${id} (commands are kept 7 days).`);
    return json(reply, 200, commandJson(record));
  };

  app.all<{ Querystring: Query }>(COMMANDS_PATH, collection);
  app.all<{ Querystring: Query }>(`${COMMANDS_PATH}/`, collection);
  app.all<{ Params: { id: string }; Querystring: Query }>(`${COMMANDS_PATH}/:id`, one);
}

/** Parses a number of seconds within bounds; the fallback when absent; null when unusable. */
function seconds(value: string | undefined, fallback: number, max: number, zeroAllowed = false): number | null {
  if (value === undefined || value === '') return fallback;
  if (!/^\d+(\.\d+)?$/.test(value)) return null;
  const number = Number(value);
  return (zeroAllowed ? number >= 0 : number > 0) && number <= max ? number : null;
}

const epoch = (date: Date | null) => (date === null ? null : date.getTime() / 1000);

/** A command as the API shows it: snake_case keys and times in epoch seconds, as the rest of the API. */
export function commandJson(command: CommandRecord) {
  return {
    id: command.id,
    command: command.kind,
    args: command.args,
    issued_by: command.issuedBy,
    created_at: epoch(command.createdAt),
    deadline: epoch(command.deadline),
    done: command.done,
    ok: command.ok,
    results: command.results.map((result) => ({
      node_id: result.nodeId,
      url: result.url,
      status: result.status,
      result: result.result,
      error: result.error,
      started_at: epoch(result.startedAt),
      finished_at: epoch(result.finishedAt),
    })),
  };
}
