import { readFile } from 'node:fs/promises';

/** The dashboard's files (plain HTML, CSS and JS: no build step), in `assets/` beside this module; the build copies them into `dist/`. */
export const ASSET_FILES = {
  'dashboard.html': 'text/html; charset=utf-8',
  'login.html': 'text/html; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
  'dashboard.js': 'text/javascript; charset=utf-8',
} as const;

export type AssetName = keyof typeof ASSET_FILES;

/** One asset in memory with its media type. */
export interface Asset {
  body: Buffer;
  type: string;
}

/**
 * Reads every asset once, from `assets/` beside this module (in `src/` for tests, in `dist/`
 * for the package).
 * @throws the filesystem's error when a file is missing (a broken build).
 */
export async function loadAssets(): Promise<Record<AssetName, Asset>> {
  const folder = new URL('./assets/', import.meta.url);
  const entries = await Promise.all(
    (Object.entries(ASSET_FILES) as [AssetName, string][]).map(
      async ([name, type]) => [name, { body: await readFile(new URL(name, folder)), type }] as const,
    ),
  );
  return Object.fromEntries(entries) as Record<AssetName, Asset>;
}

/**
 * Headers of every dashboard answer: nothing cached, no framing, no inline script or
 * style, no requests to other sites, no referrer.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'cache-control': 'no-store',
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};
