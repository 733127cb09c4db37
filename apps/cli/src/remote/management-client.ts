import { httpRequest, type HttpAnswer } from '../http-client.js';
import type { RemoteConfig } from '../config.js';
import { RemoteRequestError } from '../errors.js';
import { parseClusterCommand, parseClusterView, type ClusterCommand, type ClusterView } from './cluster-listing.js';
import { parseCacheListing, parseDeletedCount, type RemoteCacheListing } from './glance-listing.js';

type Method = 'GET' | 'PUT' | 'DELETE' | 'POST';

/**
 * Talks to a running `imgcache-server`'s cache management API with the admin token.
 *
 * It uses the v2 `/v2/cache` routes to list and to queue. Deletes go to the legacy
 * `/v2/cached_images` and `/v2/queued_images` routes: `DELETE /v2/cache/{id}` also drops
 * the queue entry (the CLI's `delete-cached-image` does not), and `DELETE /v2/cache`
 * answers 204 without the count of deleted images that the CLI reports.
 */
export class ManagementClient {
  constructor(private readonly remote: RemoteConfig) {}

  /** The server's base URL, for messages and prompts. */
  get location(): string {
    return this.remote.url.href;
  }

  /**
   * Lists the cached images and the queued ids.
   * @throws {RemoteRequestError} when the request fails or the answer is not a listing.
   */
  async listCache(): Promise<RemoteCacheListing> {
    return this.parse('v2/cache', parseCacheListing, await this.request('GET', 'v2/cache', 200));
  }

  /**
   * Queues an image; the server starts prefetching at once.
   * @throws {RemoteRequestError} when the request fails.
   */
  async queueImage(imageId: string): Promise<void> {
    await this.request('PUT', `v2/cache/${encodeURIComponent(imageId)}`, 202);
  }

  /**
   * Deletes an image's cached copy (its queue entry stays). Deleting one that is not cached is not an error.
   * @throws {RemoteRequestError} when the request fails.
   */
  async deleteCachedImage(imageId: string): Promise<void> {
    await this.request('DELETE', `v2/cached_images/${encodeURIComponent(imageId)}`, 200);
  }

  /**
   * Deletes an image's queue entry. Deleting one that is not queued is not an error.
   * @throws {RemoteRequestError} when the request fails.
   */
  async deleteQueuedImage(imageId: string): Promise<void> {
    await this.request('DELETE', `v2/queued_images/${encodeURIComponent(imageId)}`, 200);
  }

  /**
   * Deletes every cached image and returns how many there were.
   * @throws {RemoteRequestError} when the request fails or the answer has no count.
   */
  async deleteAllCachedImages(): Promise<number> {
    return this.parse('v2/cached_images', parseDeletedCount, await this.request('DELETE', 'v2/cached_images', 200));
  }

  /**
   * Deletes every queue entry and returns how many there were.
   * @throws {RemoteRequestError} when the request fails or the answer has no count.
   */
  async deleteAllQueuedImages(): Promise<number> {
    return this.parse('v2/queued_images', parseDeletedCount, await this.request('DELETE', 'v2/queued_images', 200));
  }

  /**
   * The server's view of its cluster: every node with its state and holdings.
   * @throws {RemoteRequestError} when the request fails, or the server is not in a cluster.
   */
  async clusterView(): Promise<ClusterView> {
    return this.parse(
      'v2/cache?scope=cluster',
      parseClusterView,
      await this.request('GET', 'v2/cache?scope=cluster', 200),
    );
  }

  /**
   * Issues a cluster command (`prune`, `clean`, `clear`) for every node of the server's cluster.
   * @throws {RemoteRequestError} when the request fails; status 404 when the server is not in a cluster.
   */
  async issueClusterCommand(command: string, query: Record<string, string> = {}): Promise<ClusterCommand> {
    const path = `v2/cache/cluster/commands?${new URLSearchParams({ command, ...query }).toString()}`;
    return this.parse(path, parseClusterCommand, await this.request('POST', path, 202));
  }

  /**
   * A cluster command as it is now, after the server waited up to `waitS` seconds for it to end.
   * @throws {RemoteRequestError} when the request fails.
   */
  async clusterCommand(id: number, waitS: number): Promise<ClusterCommand> {
    const path = `v2/cache/cluster/commands/${id}?wait=${waitS}`;
    return this.parse(path, parseClusterCommand, await this.request('GET', path, 200));
  }

  /** The request timeout in seconds (`--timeout`). */
  get timeout(): number {
    return this.remote.timeout;
  }

  /** Sends one request and returns its JSON body (undefined when empty), or throws a clear error. */
  private async request(method: Method, path: string, expected: number): Promise<unknown> {
    const url = new URL(path, this.remote.url);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.remote.token !== undefined) headers['x-auth-token'] = this.remote.token;
    let response: HttpAnswer;
    let text: string;
    try {
      // The timeout covers the body as well: a server that stalls mid-answer is abandoned too.
      response = await httpRequest(url, { method, headers, signal: AbortSignal.timeout(this.remote.timeout * 1000) });
      text = await response.body.text();
    } catch (error) {
      throw this.transportError(error);
    }
    if (response.status !== expected) throw this.statusError(method, url, response, text);
    if (text.length === 0) return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new RemoteRequestError(
        `unexpected answer from ${method} ${url.href}: the body is not JSON`,
        response.status,
        { cause: error },
      );
    }
  }

  private parse<T>(path: string, parse: (body: unknown) => T, body: unknown): T {
    try {
      return parse(body);
    } catch (error) {
      throw new RemoteRequestError(
        `unexpected answer from ${new URL(path, this.remote.url).href}: ${(error as Error).message}`,
        undefined,
        { cause: error },
      );
    }
  }

  private transportError(error: unknown): RemoteRequestError {
    if (error instanceof Error && error.name === 'TimeoutError') {
      return new RemoteRequestError(
        `no answer from ${this.location} within ${this.remote.timeout} s (raise --timeout to wait longer)`,
        undefined,
        { cause: error },
      );
    }
    // The socket error itself, or (wrapped, as fetch did) its cause.
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    const detail =
      code === 'ECONNREFUSED' ? 'connection refused' : cause instanceof Error ? cause.message : String(cause);
    return new RemoteRequestError(`cannot reach ${this.location}: ${detail}`, undefined, { cause: error });
  }

  private statusError(method: Method, url: URL, response: HttpAnswer, text: string): RemoteRequestError {
    const { status } = response;
    const said = serverMessage(text);
    const detail = `the server answered ${status}${said ? `: ${said}` : ''}`;
    if (status === 401 || status === 403)
      return new RemoteRequestError(`not authorised: check --token (${detail})`, status);
    // The management routes answer 404 only when the server runs without an admin token.
    if (status === 404)
      return new RemoteRequestError(
        `the server has no management API (start it with --admin-token); ${method} ${url.href}: ${detail}`,
        status,
      );
    return new RemoteRequestError(`${method} ${url.href} failed: ${detail}`, status);
  }
}

/** The message of the server's JSON error body `{"error": {"message"}}`, else a short excerpt of the text. */
function serverMessage(text: string): string {
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } } | null)?.error?.message;
    if (typeof message === 'string') return message;
  } catch {
    // Not JSON: fall through to the raw text.
  }
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}
