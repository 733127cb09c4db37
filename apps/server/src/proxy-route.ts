import type { ImageCache, Logger } from '@imgcache/core';
import { isValidImageId } from '@imgcache/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Authorizer } from './authorizer.js';
import { discard, forwardedHeaders, returnedHeaders, type Origin } from './origin.js';
import { relayOriginResponse, sendError, sendInvalidId, streamResponse } from './respond.js';
import { addCacheApiVersions } from './versions.js';

export interface ProxyContext {
  cache: ImageCache;
  origin: Origin;
  authorizer: Authorizer;
  logger: Logger;
  /** The `--accel-redirect` prefix: nginx's internal location, never the origin's. */
  internalPrefix?: string | null;
}

const IMAGE_PATH = /^\/v2\/images\/([^/?]+)\/?(?:\?.*)?$/;
const VERSION_PATHS = new Set(['/', '/versions', '/v2', '/v2/']);
const MAX_VERSION_DOCUMENT = 1024 * 1024;

/**
 * Everything that is not an image download, a management or an operations route goes to
 * the origin unchanged, request and response bodies streamed both ways (image metadata,
 * create, upload, listing). The version document gains the cache API versions, and a
 * successful image delete also drops the cached copy, its queue entry and any running fill.
 */
export function registerProxyRoute(app: FastifyInstance, context: ProxyContext): void {
  const { cache, origin, authorizer } = context;

  async function handle(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const url = request.raw.url ?? '/';
    const deletedImage = request.method === 'DELETE' ? IMAGE_PATH.exec(url)?.[1] : undefined;
    if (deletedImage !== undefined && !isValidImageId(decodeURIComponent(deletedImage)))
      return void sendInvalidId(reply, deletedImage);
    const path = url.split('?')[0]!;
    if (context.internalPrefix && underPrefix(path, context.internalPrefix)) {
      return void sendError(
        reply,
        404,
        `${context.internalPrefix} is the front nginx's internal location; nothing is served under it here`,
      );
    }
    const versions = request.method === 'GET' && VERSION_PATHS.has(path);
    const headers = forwardedHeaders(request.headers);
    // The version document is rewritten, so ask for it uncompressed.
    if (versions) delete headers['accept-encoding'];
    const hasBody =
      request.headers['content-length'] !== undefined || request.headers['transfer-encoding'] !== undefined;
    const response = await origin.request(origin.resolve(url), {
      method: request.method,
      headers,
      body: hasBody ? request.raw : null,
    });
    if (deletedImage !== undefined && response.statusCode >= 200 && response.statusCode < 300) {
      const imageId = decodeURIComponent(deletedImage);
      await cache.deleteCachedImage(imageId);
      await cache.deleteQueuedImage(imageId);
      authorizer.forget(imageId);
    }
    if (versions && isJson(response.headers['content-type'])) return relayVersions(reply, response);
    await relayOriginResponse(reply, response);
  }

  async function relayVersions(reply: FastifyReply, response: Awaited<ReturnType<Origin['request']>>): Promise<void> {
    const chunks: Buffer[] = [];
    let length = 0;
    for await (const chunk of response.body) {
      length += chunk.byteLength;
      if (length > MAX_VERSION_DOCUMENT) {
        discard(response.body);
        reply.raw.destroy();
        return;
      }
      chunks.push(Buffer.from(chunk));
    }
    const original = Buffer.concat(chunks);
    const rewritten = addCacheApiVersions(original.toString('utf8'));
    const body = rewritten === null ? original : Buffer.from(rewritten);
    const headers = returnedHeaders(response.headers);
    headers['content-length'] = String(body.byteLength);
    await streamResponse(reply, response.statusCode, headers, [body]);
  }

  app.all('/*', handle);
  app.all('/', handle);
}

function isJson(contentType: string | string[] | undefined): boolean {
  const value = Array.isArray(contentType) ? contentType[0] : contentType;
  return value?.toLowerCase().includes('json') === true;
}

/**
 * Whether a request path is under a prefix once percent-escapes and dot segments are
 * resolved, as the origin behind would read it (`/%5Fimgcache/x`, `/v2/../_imgcache/x`).
 */
function underPrefix(path: string, prefix: string): boolean {
  let decoded: string;
  try {
    decoded = new URL(decodeURIComponent(path), 'http://host').pathname;
  } catch {
    decoded = path;
  }
  return `${decoded}/`.startsWith(prefix) || `${path}/`.startsWith(prefix);
}
