import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { LoginThrottle } from './dashboard/login-throttle.js';
import { sendError } from './respond.js';

/**
 * Guards the management API: disabled (404) without a configured token; otherwise the
 * request needs `X-Auth-Token` or `Authorization: Bearer` equal to it (401 when missing,
 * 403 when wrong). Wrong tokens count against the client address in `throttle` (share the
 * dashboard's, so both doors to the token have one budget): after too many, 429 with
 * Retry-After, without looking at the token. Returns true when the request may proceed;
 * otherwise it has been answered.
 */
export function createAdminGuard(
  adminToken: string | undefined,
  throttle: LoginThrottle = new LoginThrottle(),
): (request: FastifyRequest, reply: FastifyReply) => boolean {
  const expected = adminToken ? digest(adminToken) : null;
  return (request, reply) => {
    if (!expected) {
      sendError(reply, 404, 'The cache management API is disabled on this server (start it with --admin-token).');
      return false;
    }
    const presented = presentedToken(request);
    if (presented === undefined) {
      sendError(
        reply,
        401,
        'The cache management API needs X-Auth-Token or Authorization: Bearer with the admin token.',
        {
          'www-authenticate': 'Bearer realm="imgcache"',
        },
      );
      return false;
    }
    const wait = throttle.retryAfter(request.ip);
    if (wait > 0) {
      sendError(reply, 429, 'Too many wrong admin tokens from this address; try again later.', {
        'retry-after': String(Math.ceil(wait / 1000)),
      });
      return false;
    }
    // Comparing fixed-length digests keeps the comparison constant-time whatever the input length.
    if (!timingSafeEqual(digest(presented), expected)) {
      throttle.failed(request.ip);
      sendError(reply, 403, 'The admin token is not valid.');
      return false;
    }
    throttle.succeeded(request.ip);
    return true;
  };
}

function presentedToken(request: FastifyRequest): string | undefined {
  const token = request.headers['x-auth-token'];
  if (typeof token === 'string' && token.length > 0) return token;
  const authorization = request.headers.authorization;
  const match = authorization ? /^Bearer\s+(.+)$/i.exec(authorization) : null;
  return match ? match[1]!.trim() : undefined;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
