import { deliversBytes } from './glance-status.js';
import { discard, type Origin, type OriginHeaders, type OriginResponse } from './origin.js';

/** Largest metadata document read; Glance's are a few KiB. */
const MAX_METADATA = 1024 * 1024;

/** What the origin says about an image, asked with the server's own credentials. */
export type ImageLookup =
  /** The origin knows the image; `active` when it would serve its data (Glance status `active`). */
  | { kind: 'found'; active: boolean; status: string | undefined }
  /** The origin answered 404 or 410. */
  | { kind: 'missing' }
  /** Any other answer (credentials refused, server error): nothing can be concluded. */
  | { kind: 'unknown'; statusCode: number };

/**
 * Asks the origin whether an image exists and can be fetched, as Glance's cache API does
 * before queueing (`PUT /v2/cache/{id}`: 404 when unknown, 400 when not `active`). Glance
 * origins are asked `GET /v2/images/{id}`; template origins `HEAD` on the data URL (a `GET`
 * whose body is dropped when the origin does not allow `HEAD`).
 * @throws {OriginError} when the origin cannot be reached.
 */
export async function lookupImage(origin: Origin, imageId: string, headers: OriginHeaders): Promise<ImageLookup> {
  const metadataUrl = origin.metadataUrl(imageId);
  const response = metadataUrl
    ? await origin.request(metadataUrl, { method: 'GET', headers: { ...headers, accept: 'application/json' } })
    : await probeData(origin, imageId, headers, 'HEAD');
  const code = response.statusCode;
  if (code === 404 || code === 410) {
    discard(response.body);
    return { kind: 'missing' };
  }
  if (code < 200 || code >= 300) {
    discard(response.body);
    return { kind: 'unknown', statusCode: code };
  }
  if (!metadataUrl) {
    discard(response.body);
    return { kind: 'found', active: deliversBytes(code), status: undefined };
  }
  const status = await readImageStatus(response.body);
  // A document without a status (not quite Glance) is taken at its word that the image exists.
  return {
    kind: 'found',
    active: status === undefined || status === 'active',
    status: typeof status === 'string' ? status : undefined,
  };
}

/**
 * Sends `method` to the image's data URL; a `HEAD` refused with 405 or 501 (Glance's data
 * route allows only GET and PUT) is retried as a `GET`. The caller must consume or discard
 * the body; for a `GET` only its status and headers are meant to be used.
 * @throws {OriginError} when the origin cannot be reached.
 */
export async function probeData(
  origin: Origin,
  imageId: string,
  headers: OriginHeaders,
  method: 'HEAD' | 'GET',
): Promise<OriginResponse> {
  const url = origin.dataUrl(imageId);
  const response = await origin.request(url, { method, headers });
  if (method === 'GET' || (response.statusCode !== 405 && response.statusCode !== 501)) return response;
  discard(response.body);
  return origin.request(url, { method: 'GET', headers });
}

/**
 * Reads a Glance image document (at most 1 MiB) and returns its `status` field, or
 * undefined when the body is not such a document.
 */
export async function readImageStatus(body: OriginResponse['body']): Promise<unknown> {
  try {
    const parsed: unknown = JSON.parse((await readBounded(body, MAX_METADATA)).toString('utf8'));
    return typeof parsed === 'object' && parsed !== null ? (parsed as { status?: unknown }).status : undefined;
  } catch {
    return undefined;
  }
}

/** Reads at most `limit` bytes of a body; stopping early destroys the rest. */
export async function readBounded(body: OriginResponse['body'], limit: number): Promise<Buffer> {
  // Stopping early destroys the body, which undici reports as an abort error: expected here.
  body.on('error', () => undefined);
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body) {
    chunks.push(Buffer.from(chunk));
    length += chunk.byteLength;
    if (length >= limit) break;
  }
  return Buffer.concat(chunks).subarray(0, limit);
}
