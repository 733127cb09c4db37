// A child process of the compliance suite: opens the driver under test on a cache root the
// way core does and runs one job on it. Its argument is a JSON WorkerJob.
import { unlink, writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import type { CreateDriver } from '@imgcache/core';
import { driverContext } from '../context.js';
import type { WorkerJob } from './jobs.js';

const job = JSON.parse(process.argv[2]!) as WorkerJob;
const specifier = /^[a-z]+:/i.test(job.module) ? job.module : pathToFileURL(job.module).href;
const loaded = (await import(specifier)) as Record<string, unknown>;
const create = loaded[job.exportName ?? 'default'] as CreateDriver<Record<string, unknown>>;
const context = driverContext(job.root, 'compliance-node');
const driver = await create(job.options ?? {})(context);
const ids = Array.from({ length: job.count }, (_, n) => `${job.name}-${n}`);

for (const [n, imageId] of ids.entries()) {
  await writeFile(context.imagePath(imageId), Buffer.alloc(n + 1, 3));
  await driver.commit({
    imageId,
    size: n + 1,
    checksum: `sha256:${n.toString(16).padStart(64, '0')}`,
    lastModified: Date.now(),
  });
  if (job.task === 'share') await driver.recordHit('shared', Date.now());
}
if (job.task === 'crash') {
  // Every commit has resolved: die without close(), as a crash would.
  process.kill(process.pid, 'SIGKILL');
}
// Remove every other entry of ours, file first as core does.
const removed = ids.filter((_, n) => n % 2 === 0);
for (const imageId of removed) await unlink(context.imagePath(imageId));
await driver.remove(removed);
await driver.close();
