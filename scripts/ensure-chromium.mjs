#!/usr/bin/env node
// Makes sure Debian's Chromium is there for the dashboard's browser test. When `chromium` is
// missing and this runs as root on a machine with apt-get, it installs it (running
// `apt-get update` first when the package lists do not know it yet), printing each step.
// Anywhere else it says why it cannot and exits 0: the browser test then skips, naming the cause.
import { spawnSync } from 'node:child_process';

const have = (command) => spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).stdout.trim();
const found = have('chromium');
if (found) {
  console.log(`ensure-chromium: using ${found}`);
  process.exit(0);
}
if (process.getuid?.() !== 0) {
  console.log('ensure-chromium: no chromium on PATH and not root, so not installing it; the dashboard browser test will skip (install Debian\'s chromium package to run it)');
  process.exit(0);
}
if (!have('apt-get')) {
  console.log('ensure-chromium: no chromium on PATH and no apt-get here; the dashboard browser test will skip (install Chromium and put `chromium` on PATH to run it)');
  process.exit(0);
}

const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
function run(args) {
  console.log(`ensure-chromium: ${args.join(' ')}`);
  const result = spawnSync(args[0], args.slice(1), { stdio: ['ignore', 'inherit', 'inherit'], env });
  return result.status === 0;
}

const install = ['apt-get', 'install', '-y', 'chromium'];
// A fresh machine's package lists are often empty: update only when the first try fails.
const installed = run(install) || (run(['apt-get', 'update']) && run(install));
if (installed && have('chromium')) console.log(`ensure-chromium: installed ${have('chromium')}`);
else console.log('ensure-chromium: could not install chromium; the dashboard browser test will skip');
process.exit(0);
