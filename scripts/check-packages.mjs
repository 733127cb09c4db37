#!/usr/bin/env node
// Checks what `pnpm publish` would upload for every publishable workspace package: packs it
// as pnpm does (workspace: ranges rewritten, the root LICENSE added), then checks the
// tarball's file list, its package.json, publint and "are the types wrong".
//
// Run `pnpm run check:packages` after a build; tests/packaging runs the same checks in CI.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const BIN = join(ROOT, 'node_modules', '.bin');

/** Workspace folders whose packages may be published. Examples and tests are private. */
const WORKSPACE_GLOBS = ['packages', 'apps'];

/** Paths a tarball may hold (relative to its `package/` folder). */
const ALLOWED_FILE = /^(dist\/.+|package\.json|README\.md|CHANGELOG\.md|LICENSE)$/;
/** Never ship tests or source maps, even inside dist. */
const FORBIDDEN_IN_DIST = /(\.test\.|\.spec\.|\.map$|\/__tests__\/|\.tsbuildinfo$)/;

/**
 * @typedef {{ name: string, dir: string, folder: string, manifest: Record<string, any>, built: boolean }} WorkspacePackage
 */

/**
 * Every non-private package under packages/ and apps/.
 * @returns {Promise<WorkspacePackage[]>}
 */
export async function publishablePackages() {
  const found = [];
  for (const folder of WORKSPACE_GLOBS) {
    const parent = join(ROOT, folder);
    if (!existsSync(parent)) continue;
    for (const name of (await readdir(parent)).sort()) {
      const dir = join(parent, name);
      const manifestPath = join(dir, 'package.json');
      if (!existsSync(manifestPath)) continue;
      const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
      if (manifest.private) continue;
      found.push({ name: manifest.name, dir, folder, manifest, built: existsSync(join(dir, 'dist')) });
    }
  }
  return found;
}

/**
 * Packs `pkg` with pnpm into `destination`; returns the tarball path.
 * @param {WorkspacePackage} pkg
 * @param {string} destination
 */
export async function pack(pkg, destination) {
  const [command, prefix] = pnpmCommand();
  const { stdout } = await run(command, [...prefix, 'pack', '--json', '--pack-destination', destination], {
    cwd: pkg.dir,
    timeout: 60_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout).filename;
}

/** The pnpm that runs us when there is one (`npx pnpm@…` puts it nowhere on PATH), else pnpm from PATH. */
function pnpmCommand() {
  const execPath = process.env.npm_execpath;
  if (execPath && /pnpm/.test(execPath))
    return /\.[cm]?js$/.test(execPath) ? [process.execPath, [execPath]] : [execPath, []];
  return ['pnpm', []];
}

/** Paths inside a tarball, relative to its `package/` folder. */
export async function tarballFiles(tarball) {
  const { stdout } = await run('tar', ['-tzf', tarball], { timeout: 30_000, maxBuffer: 16 * 1024 * 1024 });
  return stdout
    .split('\n')
    .filter((line) => line && !line.endsWith('/'))
    .map((line) => line.replace(/^package\//, ''))
    .sort();
}

/** The package.json inside a tarball, as npm will see it. */
export async function tarballManifest(tarball) {
  const { stdout } = await run('tar', ['-xzOf', tarball, 'package/package.json'], { timeout: 30_000 });
  return JSON.parse(stdout);
}

/** Problems with the file list: anything outside the allow-list, tests, maps, or missing essentials. */
export function fileProblems(files, manifest) {
  const problems = [];
  for (const file of files) {
    if (!ALLOWED_FILE.test(file)) problems.push(`unexpected file ${file}`);
    else if (FORBIDDEN_IN_DIST.test(file)) problems.push(`test or source map in dist: ${file}`);
  }
  for (const required of ['package.json', 'README.md', 'LICENSE']) {
    if (!files.includes(required)) problems.push(`missing ${required}`);
  }
  if (!files.some((file) => file.endsWith('.js'))) problems.push('no built JavaScript in dist/');
  if (manifest.types && !files.includes(manifest.types.replace(/^\.\//, '')))
    problems.push(`types file ${manifest.types} is not packed`);
  for (const [command, target] of Object.entries(manifest.bin ?? {})) {
    if (!files.includes(String(target).replace(/^\.\//, '')))
      problems.push(`bin ${command} -> ${target} is not packed`);
  }
  return problems;
}

/** Problems with the packed manifest: leftover workspace: ranges and missing release fields. */
export function manifestProblems(manifest) {
  const problems = [];
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies', 'devDependencies']) {
    for (const [name, range] of Object.entries(manifest[field] ?? {})) {
      if (String(range).startsWith('workspace:')) problems.push(`${field}.${name} is still ${range}`);
    }
  }
  for (const field of [
    'name',
    'version',
    'description',
    'license',
    'repository',
    'engines',
    'type',
    'exports',
    'files',
  ]) {
    if (manifest[field] === undefined) problems.push(`no ${field}`);
  }
  if (manifest.publishConfig?.access !== 'public') problems.push('publishConfig.access is not public');
  if (manifest.type !== 'module') problems.push('type is not module');
  return problems;
}

/** Runs publint on a tarball; resolves to its report, rejects with it when it fails. */
export async function publint(tarball) {
  return tool('publint', ['run', tarball, '--strict']);
}

/**
 * Runs "are the types wrong" on a tarball. Our packages are ESM only by design (Node >= 20
 * imports them; require() of ESM is not our promise), so the esm-only profile leaves out
 * the node10 and node16-from-CommonJS resolutions, which can only ever say "this is ESM".
 */
export async function attw(tarball) {
  return tool('attw', [tarball, '--profile', 'esm-only', '--format', 'ascii', '--no-color', '--no-emoji']);
}

async function tool(name, args) {
  try {
    const { stdout, stderr } = await run(join(BIN, name), args, {
      cwd: ROOT,
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return `${stdout}${stderr}`;
  } catch (error) {
    const output = `${error.stdout ?? ''}${error.stderr ?? ''}`;
    throw new Error(
      `${name} failed for ${relative(ROOT, args.find((arg) => arg.endsWith('.tgz')) ?? '')}:\n${output || error.message}`,
    );
  }
}

/**
 * Packs every publishable package into one temporary folder.
 * @returns {Promise<{ dir: string, packed: Map<string, { pkg: WorkspacePackage, tarball: string }> }>}
 */
export async function packAll() {
  const dir = await mkdtemp(join(tmpdir(), 'imgcache-pack-'));
  const packed = new Map();
  const packages = await publishablePackages();
  // Packing runs pnpm, which is mostly waiting on the filesystem: do it side by side.
  await Promise.all(
    packages.map(async (pkg) => {
      if (!pkg.built) throw new Error(`${pkg.name} has no dist/: run the build first`);
      packed.set(pkg.name, { pkg, tarball: await pack(pkg, dir) });
    }),
  );
  return { dir, packed };
}

/** Every check for one packed package; returns the problems found. */
export async function checkTarball(tarball) {
  const [files, manifest] = await Promise.all([tarballFiles(tarball), tarballManifest(tarball)]);
  const problems = [...fileProblems(files, manifest), ...manifestProblems(manifest)];
  for (const check of [publint, attw]) {
    try {
      await check(tarball);
    } catch (error) {
      problems.push(error.message);
    }
  }
  return problems;
}

async function main() {
  const { dir, packed } = await packAll();
  let failed = 0;
  try {
    for (const [name, { tarball }] of [...packed].sort()) {
      const problems = await checkTarball(tarball);
      failed += problems.length > 0 ? 1 : 0;
      console.log(problems.length === 0 ? `ok ${name}` : `FAIL ${name}\n  ${problems.join('\n  ')}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  console.log(`${packed.size - failed} packages passed, ${failed} failed`);
  process.exitCode = failed > 0 ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
