import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { credentialHeaders } from './origin.js';

/** Most (image, credentials) pairs remembered; beyond it the least recently authorised go first. */
export const MAX_REMEMBERED = 10_000;

/**
 * When the origin last authorised each (image, credentials) pair, in milliseconds since
 * the epoch. Credentials are kept only as a SHA-256 digest of what identifies the client
 * to the origin (`X-Auth-Token`, `Authorization`), never in clear. At most
 * {@link MAX_REMEMBERED} pairs are kept: a Map iterates in insertion order and a pair is
 * re-inserted each time it is authorised, so the first one is the least recently authorised.
 */
export class AuthorisationMemory {
  private readonly authorisedAt = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Records that the origin authorised these credentials for the image just now. */
  record(imageId: string, incoming: IncomingHttpHeaders): void {
    const key = memoryKey(imageId, incoming);
    this.authorisedAt.delete(key);
    this.authorisedAt.set(key, this.now());
    while (this.authorisedAt.size > MAX_REMEMBERED) this.authorisedAt.delete(this.authorisedAt.keys().next().value!);
  }

  /** Milliseconds since the origin last authorised these credentials for the image, or undefined. */
  age(imageId: string, incoming: IncomingHttpHeaders): number | undefined {
    const at = this.authorisedAt.get(memoryKey(imageId, incoming));
    return at === undefined ? undefined : Math.max(0, this.now() - at);
  }

  /** Forgets one pair (the origin refused these credentials for the image). */
  forget(imageId: string, incoming: IncomingHttpHeaders): void {
    this.authorisedAt.delete(memoryKey(imageId, incoming));
  }

  /** Forgets every pair of an image (it was deleted at the origin). */
  forgetImage(imageId: string): void {
    const prefix = `${imageId}\0`;
    for (const key of this.authorisedAt.keys()) if (key.startsWith(prefix)) this.authorisedAt.delete(key);
  }

  /** Number of pairs remembered. */
  get size(): number {
    return this.authorisedAt.size;
  }
}

function memoryKey(imageId: string, incoming: IncomingHttpHeaders): string {
  const credentials = credentialHeaders(incoming);
  const digest = createHash('sha256')
    .update(`${credentials['x-auth-token'] ?? ''}\0${credentials.authorization ?? ''}`)
    .digest('base64url');
  return `${imageId}\0${digest}`;
}
