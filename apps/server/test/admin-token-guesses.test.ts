import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './helpers/harness.js';
import { send } from './helpers/http-client.js';

const TOKEN = 'management-admin-token-0123456789';

describe('guessing the admin token', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('the management API refuses an address after 10 wrong tokens, even the right one, and says when to retry', async () => {
    h = await startHarness({ adminToken: TOKEN });
    for (let guess = 0; guess < 10; guess++) {
      expect((await send(h.url('/v2/cache'), { headers: { 'x-auth-token': `guess-${guess}` } })).status).toBe(403);
    }
    const refused = await send(h.url('/v2/cache'), { headers: { 'x-auth-token': TOKEN } });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    // Another address is not affected.
    expect(
      (await send(h.url('/v2/cache'), { headers: { 'x-auth-token': TOKEN }, localAddress: '127.0.0.2' })).status,
    ).toBe(200);
  });

  it('shares one budget with the dashboard login: guesses through either door count', async () => {
    h = await startHarness({ adminToken: TOKEN });
    for (let guess = 0; guess < 5; guess++) {
      expect((await send(h.url('/v2/cache'), { headers: { authorization: `Bearer guess-${guess}` } })).status).toBe(
        403,
      );
    }
    for (let guess = 5; guess < 10; guess++) {
      const login = await send(h.url('/dashboard/login'), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: Buffer.from(new URLSearchParams({ token: `guess-${guess}` }).toString()),
      });
      expect(login.status).toBe(401);
    }
    expect((await send(h.url('/v2/cache'), { headers: { 'x-auth-token': TOKEN } })).status).toBe(429);
  });

  it('a right token clears the address: its earlier wrong ones no longer count', async () => {
    h = await startHarness({ adminToken: TOKEN });
    for (let guess = 0; guess < 9; guess++)
      await send(h.url('/v2/cache'), { headers: { 'x-auth-token': `guess-${guess}` } });
    expect((await send(h.url('/v2/cache'), { headers: { 'x-auth-token': TOKEN } })).status).toBe(200);
    for (let guess = 0; guess < 9; guess++)
      await send(h.url('/v2/cache'), { headers: { 'x-auth-token': `again-${guess}` } });
    expect((await send(h.url('/v2/cache'), { headers: { 'x-auth-token': TOKEN } })).status).toBe(200);
  });

  it('behind a trusted proxy, each client has its own budget: one guessing client cannot lock the admin out', async () => {
    h = await startHarness({ adminToken: TOKEN, trustProxy: ['127.0.0.1'] });
    const from = (client: string) => ({ 'x-forwarded-for': client });
    for (let guess = 0; guess < 10; guess++) {
      expect(
        (await send(h.url('/v2/cache'), { headers: { ...from('203.0.113.5'), 'x-auth-token': `guess-${guess}` } }))
          .status,
      ).toBe(403);
    }
    expect(
      (await send(h.url('/v2/cache'), { headers: { ...from('203.0.113.5'), 'x-auth-token': TOKEN } })).status,
    ).toBe(429);
    expect(
      (await send(h.url('/v2/cache'), { headers: { ...from('198.51.100.7'), 'x-auth-token': TOKEN } })).status,
    ).toBe(200);
  });

  it('without --trust-proxy, X-Forwarded-For is ignored: a client cannot escape the limit by naming others', async () => {
    h = await startHarness({ adminToken: TOKEN });
    for (let guess = 0; guess < 10; guess++) {
      await send(h.url('/v2/cache'), {
        headers: { 'x-forwarded-for': `203.0.113.${guess}`, 'x-auth-token': `guess-${guess}` },
      });
    }
    expect(
      (await send(h.url('/v2/cache'), { headers: { 'x-forwarded-for': '198.51.100.7', 'x-auth-token': TOKEN } }))
        .status,
    ).toBe(429);
  });
});
