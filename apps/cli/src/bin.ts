#!/usr/bin/env node
import { defaultCacheDir } from './default-dir.js';
import { runDemo } from './demo.js';

const [command] = process.argv.slice(2);
if (command !== 'demo') {
  console.error('usage: imgcache demo');
  process.exit(2);
}
await runDemo(defaultCacheDir(), (line) => console.log(line));
