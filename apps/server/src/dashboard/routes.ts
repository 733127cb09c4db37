import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Admission } from '../admission.js';
import type { CacheActionContext } from '../cache-actions.js';
import type { Maintenance } from '../maintenance.js';
import type { ServerMetrics } from '../metrics.js';
import { sendError } from '../respond.js';
import { registerDashboardActions } from './actions.js';
import { loadAssets, SECURITY_HEADERS, type AssetName } from './assets.js';
import { LoginThrottle } from './login-throttle.js';
import { DashboardSessions, sameSecret, sessionCookie, type DashboardSession } from './sessions.js';
import { buildStatus, readTrafficTotals } from './status.js';
import { TrafficHistory } from './traffic-history.js';

/** Seconds per chart sample. */
export const SAMPLE_SECONDS = 10;

export interface DashboardContext extends CacheActionContext {
  admission: Admission;
  maintenance: Maintenance;
  metrics: ServerMetrics;
  /** The budget, in bytes. */
  maxSize: number;
  /** When set, the dashboard needs a login with this token; without it the page is read-only. */
  adminToken: string | undefined;
  /** Wrong admin tokens per client address, shared with the management API. */
  tokenGuesses?: LoginThrottle | undefined;
}

/** Whether a request may see the dashboard: open without an admin token, else a live session. */
export type Access = { open: true } | { open: false; session: { id: string; session: DashboardSession } | undefined };

/**
 * The status page at `/dashboard`: the page and its assets, a login form when an admin
 * token is set (the token is posted once and swapped for an HttpOnly, SameSite=Strict
 * session cookie), the JSON it polls (`/dashboard/api/status`) and its actions. Nothing
 * under `/dashboard` ever goes to the origin.
 */
export function registerDashboard(app: FastifyInstance, context: DashboardContext): void {
  app.register(async (scope) => {
    const assets = await loadAssets();
    const sessions = new DashboardSessions();
    const throttle = context.tokenGuesses ?? new LoginThrottle();
    const startedAt = Date.now();
    const traffic = new TrafficHistory(
      () => readTrafficTotals(context.metrics),
      await readTrafficTotals(context.metrics),
    );
    const timer = setInterval(() => void traffic.record().catch(() => undefined), SAMPLE_SECONDS * 1000).unref();
    scope.addHook('onClose', async () => clearInterval(timer));

    // This scope reads small forms and JSON bodies; the rest of the server parses none.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 4096 },
      (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
    );
    scope.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: 4096 }, (_request, body, done) => {
      try {
        done(null, JSON.parse(body as string));
      } catch {
        done(Object.assign(new Error('The body is not JSON.'), { statusCode: 400 }), undefined);
      }
    });

    const access = (request: FastifyRequest): Access =>
      context.adminToken ? { open: false, session: sessions.find(request.headers.cookie) } : { open: true };
    const allowed = (state: Access) => state.open || state.session !== undefined;
    const send = (reply: FastifyReply, name: AssetName, status = 200, body?: string) =>
      reply
        .code(status)
        .headers(SECURITY_HEADERS)
        .type(assets[name].type)
        .send(body ?? assets[name].body);

    const page = async (request: FastifyRequest, reply: FastifyReply) =>
      send(reply, allowed(access(request)) ? 'dashboard.html' : 'login.html');
    const notAllowed = async (request: FastifyRequest, reply: FastifyReply) =>
      sendError(
        reply.headers(SECURITY_HEADERS),
        405,
        `Method ${request.method} is not allowed on ${request.url.split('?')[0]!.slice(0, 200)}.`,
        { allow: 'GET' },
      );
    for (const url of ['/dashboard', '/dashboard/']) {
      scope.get(url, page);
      // Any other method here is refused, never passed on to the origin by the proxy route.
      scope.route({ method: ['HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'], url, handler: notAllowed });
    }
    for (const name of ['dashboard.css', 'dashboard.js'] as const)
      scope.get(`/dashboard/assets/${name}`, async (_request, reply) => send(reply, name));

    scope.post<{ Body: Record<string, string> | undefined }>('/dashboard/login', async (request, reply) => {
      if (!context.adminToken)
        return sendError(
          reply,
          404,
          'There is no login: this server has no --admin-token, and its dashboard is read-only.',
        );
      const form = (status: number, text: string) =>
        send(
          reply,
          'login.html',
          status,
          assets['login.html'].body
            .toString('utf8')
            .replace('<!--message-->', `<p class="error" role="alert">${text}</p>`),
        );
      const wait = throttle.retryAfter(request.ip);
      if (wait > 0) {
        reply.header('retry-after', String(Math.ceil(wait / 1000)));
        return form(429, `Too many failed logins from this address; try again in ${Math.ceil(wait / 60_000)} min.`);
      }
      const token = request.body?.token;
      if (typeof token !== 'string' || !sameSecret(token, context.adminToken)) {
        throttle.failed(request.ip);
        request.log.warn({ ip: request.ip }, 'dashboard login refused');
        return form(401, 'That is not the admin token.');
      }
      throttle.succeeded(request.ip);
      const { id } = sessions.create();
      return reply
        .code(303)
        .headers(SECURITY_HEADERS)
        .header('set-cookie', sessionCookie(id, { secure: request.protocol === 'https' }))
        .redirect('/dashboard', 303);
    });

    scope.get('/dashboard/api/status', async (request, reply) => {
      const state = access(request);
      if (!allowed(state)) return sendError(reply.headers(SECURITY_HEADERS), 401, 'Log in to the dashboard first.');
      const status = await buildStatus({ ...context, traffic }, { startedAt, intervalSeconds: SAMPLE_SECONDS });
      const session = state.open ? null : state.session!.session;
      return reply
        .headers(SECURITY_HEADERS)
        .type('application/json')
        .send({ ...status, actions: session !== null, csrf: session?.csrf ?? null });
    });

    registerDashboardActions(scope, context, { access, sessions });

    scope.all('/dashboard/*', async (request, reply) =>
      sendError(
        reply.headers(SECURITY_HEADERS),
        404,
        `No dashboard route matches ${request.url.split('?')[0]!.slice(0, 200)}.`,
      ),
    );
  });
}
