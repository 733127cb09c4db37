import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findChromium, launchChromium } from '../helpers/chromium.js';
import { randomImage, startHarness, waitFor, type Harness } from '../helpers/harness.js';
import { send } from '../helpers/http-client.js';

const TOKEN = 'browser-test-admin-token-5f1c';
/** Test output of the whole repository (CI's .test-results), where the screenshot goes. */
const OUTPUT = fileURLToPath(new URL('../../../../.test-results/dashboard/', import.meta.url));
const chromium = findChromium();
if ('reason' in chromium) console.warn(`dashboard browser test skipped: ${chromium.reason}`);

function metric(text: string, series: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  if (!line) throw new Error(`metric ${series} not found`);
  return Number(line.slice(series.length + 1));
}

const figure = (page: Page, name: string) => page.locator(`[data-figure="${name}"]`).first().getAttribute('data-value');

describe.skipIf('reason' in chromium)('dashboard in Chromium', () => {
  let h: Harness;
  let release!: () => void;
  let gatedRequest: Promise<unknown>;
  let browser: Awaited<ReturnType<typeof launchChromium>>;

  beforeAll(async () => {
    h = await startHarness({ adminToken: TOKEN, maxSize: 50_000_000, prefetchConcurrency: 1 });
    h.origin.add('ubuntu-24.04', { data: randomImage(900_000) });
    h.origin.add('cirros-0.6', { data: randomImage(20_000) });
    h.origin.add('fedora-41', { data: randomImage(300_000) });
    h.origin.add('broken-upload', { data: randomImage(1_000), status: 500 });
    const gate = new Promise<void>((resolve) => (release = resolve));
    h.origin.add('debian-13', { data: randomImage(400_000), gate: { afterBytes: 150_000, release: gate } });
    for (const id of ['ubuntu-24.04', 'fedora-41', 'cirros-0.6', 'cirros-0.6', 'cirros-0.6', 'fedora-41'])
      await send(h.url(`/v2/images/${id}/file`));
    // A failing queued image: one maintenance pass leaves it queued with its failure.
    await h.server.cache.queueImage('broken-upload');
    await h.server.maintenance.run();
    gatedRequest = send(h.url('/v2/images/debian-13/file')).catch(() => null);
    await waitFor(() =>
      h.server.cache.activeFills.some((fill) => fill.imageId === 'debian-13' && fill.bytesReceived >= 150_000),
    );
    browser = await launchChromium((chromium as { path: string }).path);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    release?.();
    await gatedRequest;
    await h?.stop();
  });

  it('logs in, shows the figures of /v2/cache and /metrics, deletes an image after confirmation, and never keeps the token', async () => {
    const page = await browser.context.newPage();
    await page.goto(h.url('/dashboard'));
    await page.fill('#token', TOKEN);
    await Promise.all([page.waitForURL(h.url('/dashboard')), page.click('button[type=submit]')]);
    await page.waitForSelector('body[data-loaded="true"]');

    // Nothing the browser holds carries the token: not the URL, the page, storage or cookies.
    expect(page.url()).not.toContain(TOKEN);
    expect(await page.content()).not.toContain(TOKEN);
    expect(await page.evaluate('localStorage.length + sessionStorage.length')).toBe(0);
    const cookies = await browser.context.cookies();
    expect(cookies.map((cookie) => [cookie.name, cookie.httpOnly, cookie.sameSite, cookie.path])).toEqual([
      ['imgcache_dashboard', true, 'Strict', '/dashboard'],
    ]);
    expect(cookies[0]!.value).not.toContain(TOKEN);
    expect(await page.evaluate('document.cookie')).toBe('');

    const metrics = (await send(h.url('/metrics'))).body.toString();
    const cache = JSON.parse((await send(h.url('/v2/cache'), { headers: { 'x-auth-token': TOKEN } })).body.toString());
    const listed = cache.cached_images as { image_id: string; size: number; hits: number }[];
    expect(Number(await figure(page, 'cache-bytes'))).toBe(metric(metrics, 'imgcache_cache_size_bytes'));
    expect(Number(await figure(page, 'cache-bytes'))).toBe(listed.reduce((sum, image) => sum + image.size, 0));
    expect(Number(await figure(page, 'images'))).toBe(listed.length);
    expect(Number(await figure(page, 'max-size'))).toBe(metric(metrics, 'imgcache_cache_max_size_bytes'));
    for (const result of ['hit', 'miss', 'coalesced', 'bypass', 'error']) {
      expect([result, Number(await figure(page, `total-${result}`))]).toEqual([
        result,
        metric(metrics, `imgcache_requests_total{result="${result}"}`),
      ]);
    }
    expect(Number(await figure(page, 'total-hitStale'))).toBe(
      metric(metrics, 'imgcache_requests_total{result="hit_stale"}'),
    );
    expect(Number(await figure(page, 'total-coalescedStale'))).toBe(
      metric(metrics, 'imgcache_requests_total{result="coalesced_stale"}'),
    );
    expect(Number(await figure(page, 'total-cache-bytes'))).toBe(
      metric(metrics, 'imgcache_served_bytes_total{source="cache"}'),
    );
    expect(Number(await figure(page, 'total-origin-bytes'))).toBe(
      metric(metrics, 'imgcache_served_bytes_total{source="origin"}'),
    );
    expect(Number(await figure(page, 'inflight-fills'))).toBe(metric(metrics, 'imgcache_inflight_fills'));
    const hits = metric(metrics, 'imgcache_requests_total{result="hit"}');
    const answered =
      hits +
      ['miss', 'coalesced', 'bypass'].reduce(
        (sum, result) => sum + metric(metrics, `imgcache_requests_total{result="${result}"}`),
        0,
      );
    expect(Number(await figure(page, 'hit-ratio'))).toBeCloseTo(hits / answered, 10);

    const largest = [...listed].sort((a, b) => b.size - a.size).map((image) => image.image_id);
    expect(
      await page
        .locator('#largest-rows tr')
        .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-image-id'))),
    ).toEqual(largest);
    const hottest = await page.locator('#hottest-rows tr td:nth-child(3)').allTextContents();
    expect(hottest.map(Number)).toEqual([...listed].map((image) => image.hits).sort((a, b) => b - a));
    // The fill held by its origin shows its progress.
    const fill = page.locator('#fills-rows tr[data-image-id="debian-13"] progress');
    expect(Number(await fill.getAttribute('max'))).toBe(400_000);
    expect(
      Number(await fill.evaluate((element) => (element as unknown as { value: number }).value)),
    ).toBeGreaterThanOrEqual(150_000);
    // The queue shows the failing image with its failed attempt.
    expect(cache.queued_images).toEqual(['broken-upload']);
    const queued = page.locator('#queue-rows tr[data-image-id="broken-upload"] td');
    expect((await queued.allTextContents()).slice(0, 2)).toEqual(['broken-upload', '1']);
    expect(await page.locator('#maintenance-rows tr td:first-child').allTextContents()).toEqual([
      'prune',
      'clean',
      'prefetch',
    ]);
    expect(await page.locator('#chart rect').count()).toBeGreaterThan(0);

    await mkdir(OUTPUT, { recursive: true });
    await page.screenshot({ path: `${OUTPUT}dashboard.png`, fullPage: true });

    // An action asks first: Cancel does nothing, Confirm deletes.
    await page.click('#largest-rows tr[data-image-id="ubuntu-24.04"] button');
    await expect.poll(() => page.locator('#confirm').evaluate((dialog) => dialog.hasAttribute('open'))).toBe(true);
    expect(await page.textContent('#confirm-text')).toBe('Delete image ubuntu-24.04 from the cache?');
    await page.click('#confirm button[value="cancel"]');
    await expect.poll(() => page.textContent('#notice')).toBe('Cancelled.');
    expect(await h.server.cache.isCached('ubuntu-24.04')).toBe(true);

    await page.click('#largest-rows tr[data-image-id="ubuntu-24.04"] button');
    await page.click('#confirm-ok');
    await expect.poll(() => page.textContent('#notice')).toBe('Image ubuntu-24.04 is deleted.');
    expect(await h.server.cache.isCached('ubuntu-24.04')).toBe(false);
    const after = JSON.parse((await send(h.url('/v2/cache'), { headers: { 'x-auth-token': TOKEN } })).body.toString());
    expect(after.cached_images.map((image: { image_id: string }) => image.image_id)).not.toContain('ubuntu-24.04');
    await expect.poll(() => page.locator('#largest-rows tr[data-image-id="ubuntu-24.04"]').count()).toBe(0);
    await page.screenshot({ path: `${OUTPUT}dashboard-after-delete.png`, fullPage: true });
  }, 120_000);
});
