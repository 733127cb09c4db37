import { describe, expect, it } from 'vitest';
import { DashboardSessions, SESSION_SECONDS, sessionCookie } from '../../src/dashboard/sessions.js';

describe('DashboardSessions', () => {
  it('finds a session by its cookie until it expires, and not after a logout', () => {
    let clock = 0;
    const sessions = new DashboardSessions(() => clock);
    const { id, session } = sessions.create();
    const header = `other=1; ${sessionCookie(id, { secure: false }).split(';')[0]}; last=2`;
    expect(sessions.find(header)?.session).toBe(session);
    clock = SESSION_SECONDS * 1000 - 1;
    expect(sessions.find(header)).toBeDefined();
    clock = SESSION_SECONDS * 1000;
    expect(sessions.find(header)).toBeUndefined();
    const second = sessions.create();
    sessions.delete(second.id);
    expect(sessions.find(`imgcache_dashboard=${second.id}`)).toBeUndefined();
  });

  it('keeps a bounded number of sessions, dropping the oldest', () => {
    const sessions = new DashboardSessions(() => 0);
    const first = sessions.create();
    for (let i = 0; i < 64; i++) sessions.create();
    expect(sessions.find(`imgcache_dashboard=${first.id}`)).toBeUndefined();
  });

  it('marks the cookie Secure over HTTPS and clears it with Max-Age=0', () => {
    expect(sessionCookie('abc', { secure: true })).toBe(
      `imgcache_dashboard=abc; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=${SESSION_SECONDS}; Secure`,
    );
    expect(sessionCookie('', { secure: false, maxAge: 0 })).toBe(
      'imgcache_dashboard=; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=0',
    );
  });
});
