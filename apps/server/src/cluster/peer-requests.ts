import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { sendError } from '../respond.js';
import { PEER_HEADER, PEER_REFUSED_HEADER, verifyPeerRequest } from './peer-auth.js';

/**
 * Which requests came from a peer node, by their header object (the one the routes and
 * {@link OriginFills} see). Checked once, on arrival.
 */
export class PeerRequests {
  private readonly verified = new WeakSet<IncomingHttpHeaders>();

  constructor(private readonly secret: string) {}

  /** True when `headers` belong to a request a peer signed: it is served here, never forwarded again (one hop). */
  isPeer(headers: IncomingHttpHeaders): boolean {
    return this.verified.has(headers);
  }

  /**
   * Checks every request that carries the peer header: a bad signature is refused with
   * 401 before any route runs; a good one is remembered and the header removed, so it is
   * never forwarded to the origin.
   */
  register(app: FastifyInstance): void {
    app.addHook('onRequest', async (request, reply) => {
      const header = request.headers[PEER_HEADER];
      if (header === undefined) return;
      const path = request.raw.url ?? '';
      const nodeId = typeof header === 'string' ? verifyPeerRequest(this.secret, header, request.method, path) : null;
      if (nodeId === null) {
        request.log.error(
          { url: path },
          'refused a peer request with a bad or stale signature: do the nodes share one --cluster-secret and a synchronised clock?',
        );
        // Tells the peer that this is about its signature, not its client: it goes to the origin instead.
        reply.header(PEER_REFUSED_HEADER, 'signature');
        return sendError(
          reply,
          401,
          'Bad or stale cluster signature: check that every node has the same --cluster-secret and a synchronised clock.',
        );
      }
      delete request.headers[PEER_HEADER];
      this.verified.add(request.headers);
    });
  }
}
