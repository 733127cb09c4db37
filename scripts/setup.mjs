#!/usr/bin/env node
// Installs the workspace with the pinned pnpm. Native addons (better-sqlite3, fs-xattr) are
// compiled against the headers that ship with this Node (<prefix>/include/node, where
// distributions and the nodejs.org tarballs put them), so node-gyp never downloads them.
// pnpm passes no config to build scripts as npm_config_* (pnpm 11+), so an environment
// variable set here, on the process that runs the install, is what reaches node-gyp; and
// pnpm-workspace.yaml turns off pnpm's own install before scripts, which would come first.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

const prefix = dirname(dirname(process.execPath));
const env = { ...process.env };
if (env.npm_config_nodedir) {
  console.log(`setup: native addons build against npm_config_nodedir=${env.npm_config_nodedir}`);
} else if (existsSync(join(prefix, 'include', 'node', 'common.gypi'))) {
  env.npm_config_nodedir = prefix;
  console.log(`setup: native addons build against this Node's headers in ${join(prefix, 'include', 'node')}`);
} else {
  console.log(
    `setup: no Node headers in ${join(prefix, 'include', 'node')}; node-gyp will download them. ` +
      "Offline, install your distribution's Node headers package or set npm_config_nodedir.",
  );
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
