import type { OutgoingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyReply } from 'fastify';
import { returnedHeaders, type OriginResponse } from './origin.js';

/**
 * Takes the response over from the framework and streams `body` into it without
 * buffering. A body that fails part-way destroys the connection, so a client never
 * mistakes a short body for a complete one. Resolves with the bytes sent; never rejects.
 */
export async function streamResponse(
  reply: FastifyReply,
  status: number,
  headers: OutgoingHttpHeaders,
  body: Readable | AsyncIterable<Uint8Array> | Iterable<Uint8Array> | null,
): Promise<{ bytes: number; error: unknown }> {
  reply.hijack();
  const response = reply.raw;
  response.writeHead(status, headers);
  if (!body || reply.request.method === 'HEAD') {
    if (body instanceof Readable) body.on('error', () => undefined).destroy();
    response.end();
    return { bytes: 0, error: null };
  }
  const source = body instanceof Readable ? body : Readable.from(body, { objectMode: false });
  let bytes = 0;
  source.on('data', (chunk: Uint8Array) => {
    bytes += chunk.byteLength;
  });
  try {
    await pipeline(source, response);
    return { bytes, error: null };
  } catch (error) {
    // pipeline destroyed both ends already; make sure the socket does not linger half-written.
    response.destroy();
    return { bytes, error };
  }
}

/** Streams an origin response to the client as it is, plus `extra` headers. */
export function relayOriginResponse(
  reply: FastifyReply,
  response: OriginResponse,
  extra: OutgoingHttpHeaders = {},
): Promise<{ bytes: number; error: unknown }> {
  return streamResponse(reply, response.statusCode, { ...returnedHeaders(response.headers), ...extra }, response.body);
}

/** A JSON error body in the shape used by every route of this server. */
export function sendError(
  reply: FastifyReply,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): FastifyReply {
  return reply
    .code(status)
    .headers(headers)
    .type('application/json')
    .send({ error: { code: status, message } });
}

/** The 400 answer for an image id that could escape the cache layout. */
export function sendInvalidId(reply: FastifyReply, imageId: string): FastifyReply {
  return sendError(
    reply,
    400,
    `Invalid image id ${JSON.stringify(imageId.slice(0, 80))}: use 1-255 characters of A-Z a-z 0-9 . _ -`,
  );
}
