import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../..', import.meta.url));

/** The Node running this test, and the headers distributions ship beside it. */
const NODE_PREFIX = dirname(dirname(process.execPath));
const HEADERS = join(NODE_PREFIX, 'include', 'node', 'common.gypi');

/** `pnpm@x.y.z`, as the README's `npx --yes pnpm@… start` names it. */
const { packageManager } = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { packageManager: string };

/** Copies the files git knows of (tracked, or new and not ignored) as they are in the working tree: a clone without node_modules or build output. */
async function cloneWorkingTree(to: string): Promise<void> {
  const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: REPO,
    maxBuffer: 16 * 1024 * 1024,
  });
  for (const file of new Set(stdout.split('\0').filter(Boolean))) {
    // A tracked file deleted in the working tree is not part of it.
    if (!existsSync(join(REPO, file))) continue;
    await mkdir(dirname(join(to, file)), { recursive: true });
    await copyFile(join(REPO, file), join(to, file));
  }
}

/**
 * Runs a command in its own process group; on `timeoutMs` the whole group is killed, so no
 * compiler outlives the test. Resolves with the exit code and the output's tail.
 */
function runBounded(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-64 * 1024);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), options.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/**
 * The environment of a machine that has only Node, npm and the npm registry: a fresh HOME
 * (no ~/.npmrc, no node-gyp header cache), no npm/pnpm settings inherited from the pnpm
 * that runs this test, and node-gyp's download pointed at a closed port. The pnpm package
 * (npx's cache) and the package store are the ones this machine already has, so nothing
 * but the supply-chain check goes to the registry; the side-effects cache is off, so the
 * native addons are compiled, not taken from an earlier build.
 */
function offlineEnv(home: string, npmCache: string, storeDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(npm_|pnpm_|xdg_)/i.test(key) && key !== 'PNPM_HOME') env[key] = value;
  }
  return {
    ...env,
    HOME: home,
    npm_config_cache: npmCache,
    pnpm_config_store_dir: storeDir,
    pnpm_config_side_effects_cache: 'false',
    // Port 9 (discard) is closed on loopback: any header download fails at once.
    npm_config_disturl: 'http://127.0.0.1:9/',
    // prebuild-install would fetch a binary from GitHub where it can; compile, as offline.
    npm_config_build_from_source: 'true',
    JOBS: String(availableParallelism()),
    // The binaries are thrown away with the clone: built unoptimised (gcc takes the last -O),
    // the SQLite amalgamation compiles in a fraction of the time. Whether it builds offline,
    // and loads, is the same question.
    CFLAGS: '-O0',
    CXXFLAGS: '-O0',
  };
}

/** The package directory of the one version of `name` in a virtual store. */
async function storedPackage(project: string, name: string): Promise<string> {
  const store = join(project, 'node_modules', '.pnpm');
  const [entry] = (await readdir(store)).filter((candidate) => candidate.startsWith(`${name}@`));
  if (!entry) throw new Error(`${name} is not installed in ${store}`);
  return join(store, entry, 'node_modules', name);
}

describe('quick start on a machine that reaches only the npm registry', () => {
  let root = '';
  let project = '';
  let env: NodeJS.ProcessEnv = {};
  let startMarker = '';

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'imgcache-quick-start-'));
    project = join(root, 'repo');
    const home = join(root, 'home');
    await mkdir(home);
    await cloneWorkingTree(project);
    const npmCache = (await run('npm', ['config', 'get', 'cache'], { cwd: REPO })).stdout.trim();
    const store = (await run('npx', ['--yes', packageManager, 'store', 'path'], { cwd: REPO })).stdout.trim();
    // `store path` names the versioned directory inside the store (…/store/v11).
    env = offlineEnv(home, npmCache, store.replace(/[\\/]v\d+$/, ''));
    startMarker = join(root, 'started');
    await writeFile(startMarker, '');
  });

  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it(`npx ${packageManager} run setup builds better-sqlite3 and fs-xattr against this Node's headers, and both load`, async (context) => {
    if (!existsSync(HEADERS))
      return context.skip(`this Node has no headers in ${dirname(HEADERS)}, which the quick start relies on offline`);

    const setup = await runBounded('npx', ['--yes', packageManager, 'run', 'setup'], {
      cwd: project,
      env,
      timeoutMs: 270_000,
    });
    expect(setup.code, setup.output).toBe(0);

    const started = (await stat(startMarker)).mtimeMs;
    const sqlite = await storedPackage(project, 'better-sqlite3');
    const xattr = await storedPackage(project, 'fs-xattr');
    for (const [addon, binary] of [
      [sqlite, 'better_sqlite3.node'],
      [xattr, 'xattr.node'],
    ] as const) {
      // Compiled by this install, not taken from an earlier build…
      expect((await stat(join(addon, 'build', 'Release', binary))).mtimeMs).toBeGreaterThanOrEqual(started);
      // …against the headers beside this Node.
      expect(await readFile(join(addon, 'build', 'config.gypi'), 'utf8')).toContain(`"nodedir": "${NODE_PREFIX}"`);
    }

    const query =
      "const Database = require('better-sqlite3'); console.log(new Database(':memory:').prepare('SELECT 6 * 7 AS answer').get().answer);";
    const loadSqlite = await run(process.execPath, ['-e', query], {
      cwd: join(project, 'packages', 'driver-sqlite'),
      env,
    });
    expect(loadSqlite.stdout.trim()).toBe('42');

    const attributes = `
      import { getAttribute, setAttribute } from 'fs-xattr';
      import { writeFileSync } from 'node:fs';
      const file = process.argv[1];
      writeFileSync(file, '');
      await setAttribute(file, 'user.quick-start', 'loaded');
      console.log((await getAttribute(file, 'user.quick-start')).toString());`;
    const loadXattr = await run(
      process.execPath,
      ['--input-type=module', '-e', attributes, join(root, 'xattr-probe')],
      { cwd: join(project, 'packages', 'driver-xattr'), env },
    );
    expect(loadXattr.stdout.trim()).toBe('loaded');
  });
});
