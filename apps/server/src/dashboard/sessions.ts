import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Name of the dashboard's session cookie. */
export const SESSION_COOKIE = 'imgcache_dashboard';

/** How long a login lasts, in seconds (a working day). */
export const SESSION_SECONDS = 8 * 3600;

/** Sessions kept at once; the oldest is dropped beyond this, so logins cannot fill memory. */
const MAX_SESSIONS = 64;

/** A logged-in browser: the CSRF token its page must send with every action, and when it expires (ms). */
export interface DashboardSession {
  csrf: string;
  expiresAt: number;
}

/**
 * The dashboard's logins, in memory: a browser that presented the admin token gets a random
 * session id in an HttpOnly cookie and a CSRF token for its actions. Neither is derived from
 * the admin token, so the token never leaves the login request; a restart logs everyone out.
 */
export class DashboardSessions {
  private readonly sessions = new Map<string, DashboardSession>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Starts a session; returns its id (for the cookie) and the session. */
  create(): { id: string; session: DashboardSession } {
    this.expire();
    while (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    const session = { csrf: randomBytes(32).toString('base64url'), expiresAt: this.now() + SESSION_SECONDS * 1000 };
    this.sessions.set(id, session);
    return { id, session };
  }

  /** The live session of a `Cookie` header, if any. */
  find(cookieHeader: string | undefined): { id: string; session: DashboardSession } | undefined {
    const id = readCookie(cookieHeader, SESSION_COOKIE);
    const session = id === undefined ? undefined : this.sessions.get(id);
    if (!id || !session) return undefined;
    if (session.expiresAt <= this.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    return { id, session };
  }

  /** Ends a session (logout). */
  delete(id: string): void {
    this.sessions.delete(id);
  }

  private expire(): void {
    const now = this.now();
    for (const [id, session] of this.sessions) if (session.expiresAt <= now) this.sessions.delete(id);
  }
}

/** Compares two secrets in constant time whatever their lengths. */
export function sameSecret(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

/**
 * The session cookie's `Set-Cookie` value: HttpOnly (no script reads it), SameSite=Strict
 * (no other site's page sends it), scoped to the dashboard's paths, Secure over HTTPS.
 * An empty id with `maxAge` 0 clears it.
 */
export function sessionCookie(id: string, options: { secure: boolean; maxAge?: number }): string {
  const attributes = [
    `${SESSION_COOKIE}=${id}`,
    'Path=/dashboard',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${options.maxAge ?? SESSION_SECONDS}`,
  ];
  if (options.secure) attributes.push('Secure');
  return attributes.join('; ');
}

function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of header?.split(';') ?? []) {
    const index = part.indexOf('=');
    if (index > 0 && part.slice(0, index).trim() === name) return part.slice(index + 1).trim();
  }
  return undefined;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
