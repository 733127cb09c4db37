#!/usr/bin/env node
// Installs the workspace with the pinned pnpm. Native addons (better-sqlite3, fs-xattr) are
// compiled against the headers that ship with this Node when they are present, so node-gyp
// never has to download them; pnpm does not pass .npmrc's nodedir on to build scripts.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

const prefix = dirname(dirname(process.execPath));
const env = { ...process.env };
if (!env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'common.gypi'))) {
  env.npm_config_nodedir = prefix;
}
const args = ['install', ...(process.env.CI ? ['--frozen-lockfile'] : [])];
// Prefer the very pnpm that runs this script (npx pnpm@… puts it nowhere on PATH).
const execPath = process.env.npm_execpath;
const [command, commandArgs] =
  execPath && /pnpm/.test(execPath)
    ? /\.[cm]?js$/.test(execPath)
      ? [process.execPath, [execPath, ...args]]
      : [execPath, args]
    : ['pnpm', args];
const result = spawnSync(command, commandArgs, { stdio: 'inherit', env, shell: process.platform === 'win32' });
if (result.error) {
  console.error(`setup: could not run pnpm: ${result.error.message}`);
  process.exit(1);
}
process.exit(result.status ?? 1);
