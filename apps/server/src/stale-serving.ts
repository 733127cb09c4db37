import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { StaleGrant } from './authorizer.js';

/**
 * The `Warning` sent with a response served on a stale authorisation: code 111 is the one
 * RFC 7234 §5.5.2 defines for a stale response served because revalidation failed (the
 * header is obsoleted by RFC 9111, but clients and proxies that log it still read it).
 */
export const STALE_WARNING = '111 imgcache "Revalidation Failed"';

const grants = new WeakMap<ServerResponse, StaleGrant>();

/**
 * Marks a response as served on a stale authorisation: its `X-Cache` gains `-STALE`
 * (`HIT-STALE`), it carries {@link STALE_WARNING}, and it is counted and logged as such
 * when its head is written (see request-log.ts).
 */
export function markStale(reply: FastifyReply, grant: StaleGrant): void {
  grants.set(reply.raw, grant);
}

/** The stale grant a response is served on, if any. */
export function staleGrantOf(response: ServerResponse): StaleGrant | undefined {
  return grants.get(response);
}
