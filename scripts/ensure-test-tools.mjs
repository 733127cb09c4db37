#!/usr/bin/env node
// Makes sure the system programs some tests drive are there: Debian's Chromium (the
// dashboard's browser test) and nginx (the deploy/nginx X-Accel-Redirect test). When one is
// missing and this runs as root on a machine with apt-get, it installs the missing packages
// in one go (running `apt-get update` first when the package lists do not know them yet),
// printing each step. Anywhere else it says why it cannot and exits 0: those tests then skip,
// naming the cause.
import { spawnSync } from 'node:child_process';

/** Each program: the command tests look for, the Debian package with it, and who needs it. */
const TOOLS = [
  { command: 'chromium', pkg: 'chromium', usedBy: 'the dashboard browser test' },
  { command: 'nginx', pkg: 'nginx-light', usedBy: 'the deploy/nginx offload test' },
];

const say = (line) => console.log(`ensure-test-tools: ${line}`);
const have = (command) => spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).stdout.trim();

const missing = [];
for (const tool of TOOLS) {
  const found = have(tool.command);
  if (found) say(`using ${found}`);
  else missing.push(tool);
}
if (missing.length === 0) process.exit(0);
const skipping = missing.map((tool) => tool.usedBy).join(' and ');
const names = missing.map((tool) => tool.command).join(', ');
if (process.getuid?.() !== 0) {
  say(
    `no ${names} on PATH and not root, so not installing; ${skipping} will skip (install Debian's ${missing.map((tool) => tool.pkg).join(' ')} to run it)`,
  );
  process.exit(0);
}
if (!have('apt-get')) {
  say(`no ${names} on PATH and no apt-get here; ${skipping} will skip (install ${names} and put it on PATH to run it)`);
  process.exit(0);
}

const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
function run(args) {
  say(args.join(' '));
  return spawnSync(args[0], args.slice(1), { stdio: ['ignore', 'inherit', 'inherit'], env }).status === 0;
}

const install = ['apt-get', 'install', '-y', '--no-install-recommends', ...missing.map((tool) => tool.pkg)];
// A fresh machine's package lists are often empty: update only when the first try fails.
if (!run(install)) run(['apt-get', 'update']) && run(install);
for (const tool of missing) {
  const found = have(tool.command);
  say(found ? `installed ${found}` : `could not install ${tool.pkg}; ${tool.usedBy} will skip`);
}
process.exit(0);
