import { isValidImageId } from '@imgcache/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { deleteImageAction, queueImageAction, type ActionResult } from '../cache-actions.js';
import { sendError, sendInvalidId } from '../respond.js';
import { SECURITY_HEADERS } from './assets.js';
import type { Access, DashboardContext } from './routes.js';
import { sameSecret, sessionCookie, type DashboardSession, type DashboardSessions } from './sessions.js';

/** The header that carries the session's CSRF token on every action. */
export const CSRF_HEADER = 'x-csrf-token';

type Body = { imageId?: unknown } | undefined;

/**
 * The dashboard's actions, `POST /dashboard/api/{queue,delete,prune,clean,logout}`: each
 * needs a session and its CSRF token in `X-CSRF-Token`, and is refused when the browser says
 * it comes from another site (`Sec-Fetch-Site`, `Origin`). Queue and delete run the very
 * code of `PUT`/`DELETE /v2/cache/{id}`; prune and clean run the maintenance steps.
 * Without an admin token there is no action (404), as there is no management API.
 */
export function registerDashboardActions(
  scope: FastifyInstance,
  context: DashboardContext,
  auth: { access: (request: FastifyRequest) => Access; sessions: DashboardSessions },
): void {
  const { maintenance } = context;

  /** The session when the request may act; otherwise the request has been answered. */
  function guard(request: FastifyRequest, reply: FastifyReply): { id: string; session: DashboardSession } | undefined {
    reply.headers(SECURITY_HEADERS);
    const state = auth.access(request);
    if (state.open) {
      sendError(reply, 404, 'Dashboard actions need an admin token: start the server with --admin-token.');
      return undefined;
    }
    if (!state.session) {
      sendError(reply, 401, 'Log in to the dashboard first.');
      return undefined;
    }
    if (crossSite(request)) {
      sendError(reply, 403, 'Dashboard actions are only accepted from the dashboard itself.');
      return undefined;
    }
    const presented = request.headers[CSRF_HEADER];
    if (typeof presented !== 'string' || !sameSecret(presented, state.session.session.csrf)) {
      sendError(reply, 403, `The ${CSRF_HEADER} header is missing or does not match this session.`);
      return undefined;
    }
    return state.session;
  }

  const answer = (reply: FastifyReply, result: ActionResult, done: string) =>
    result.ok ? reply.code(200).send({ ok: true, message: done }) : sendError(reply, result.status, result.message);

  /** The image id of a queue or delete action, checked before anything else; undefined when refused. */
  function imageId(request: FastifyRequest<{ Body: Body }>, reply: FastifyReply): string | undefined {
    const value = request.body?.imageId;
    if (typeof value !== 'string') {
      sendError(reply, 400, 'Send a JSON body {"imageId": "..."}.');
      return undefined;
    }
    if (!isValidImageId(value)) {
      sendInvalidId(reply, value);
      return undefined;
    }
    return value;
  }

  scope.post<{ Body: Body }>('/dashboard/api/queue', async (request, reply) => {
    if (!guard(request, reply)) return reply;
    const id = imageId(request, reply);
    if (id === undefined) return reply;
    request.log.info({ imageId: id, action: 'queue' }, 'dashboard action');
    return answer(reply, await queueImageAction(context, id), `Image ${id} is queued.`);
  });

  scope.post<{ Body: Body }>('/dashboard/api/delete', async (request, reply) => {
    if (!guard(request, reply)) return reply;
    const id = imageId(request, reply);
    if (id === undefined) return reply;
    request.log.info({ imageId: id, action: 'delete' }, 'dashboard action');
    return answer(reply, await deleteImageAction(context, id), `Image ${id} is deleted.`);
  });

  for (const step of ['prune', 'clean'] as const) {
    scope.post(`/dashboard/api/${step}`, async (request, reply) => {
      if (!guard(request, reply)) return reply;
      request.log.info({ action: step }, 'dashboard action');
      const result = await maintenance[step]();
      return result.ok ? reply.send({ ok: true, result }) : sendError(reply, 500, `${step} failed: ${result.error}`);
    });
  }

  scope.post('/dashboard/api/logout', async (request, reply) => {
    const session = guard(request, reply);
    if (!session) return reply;
    auth.sessions.delete(session.id);
    return reply
      .header('set-cookie', sessionCookie('', { secure: request.protocol === 'https', maxAge: 0 }))
      .code(204)
      .send();
  });
}

/** True when the browser reports that another site made the request. */
function crossSite(request: FastifyRequest): boolean {
  const site = request.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin') return true;
  const origin = request.headers.origin;
  return typeof origin === 'string' && origin !== `${request.protocol}://${request.headers.host}`;
}
