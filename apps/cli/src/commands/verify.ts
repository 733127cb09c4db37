import { assertValidImageId, listQuarantined } from '@imgcache/core';
import type { Command } from 'commander';
import { contextFor, withCache } from '../context.js';
import { OperationFailedError } from '../errors.js';
import { lostImages, printQuarantined, printRepairsAtOpen } from '../format/repairs.js';
import { examples } from '../help.js';

/**
 * `verify [ID…]`: re-hashes files; failures are quarantined by core. What the startup
 * reconcile of this same run moved aside or dropped counts as a failure too, and files
 * quarantined earlier (still in invalid/) are listed. Exit status 1 when this run lost an image.
 */
export function registerVerify(program: Command): void {
  const command = program
    .command('verify')
    .description('re-hash cached files against their recorded checksum; failures are moved to invalid/ (exit 1)')
    .argument('[id...]', 'image ids (default: every cached image)')
    .action(async (ids: string[], _options: object, self: Command) => {
      for (const id of ids) assertValidImageId(id);
      const context = await contextFor(self);
      const { result, repairedAtOpen, invalid } = await withCache(context, async (cache) => {
        const verified = await cache.verify(ids.length > 0 ? ids : undefined);
        return {
          result: verified,
          repairedAtOpen: cache.reconcileReport.repairs,
          invalid: await listQuarantined(cache.layout),
        };
      });
      const { out } = context;
      out.data({ ...result, repairedAtOpen, invalid });
      printRepairsAtOpen(out, repairedAtOpen);
      const movedNow = new Set([...repairedAtOpen, ...result.failed].map((item) => item.movedTo).filter(Boolean));
      const earlier = invalid.filter((file) => !movedNow.has(`invalid/${file.name}`));
      const checked = `Verified ${result.checked} image${result.checked === 1 ? '' : 's'}`;
      if (result.failed.length === 0) out.line(`${checked}: all intact.`);
      else {
        out.line(`${checked}: ${result.failed.length} failed (corrupt ones moved to invalid/):`);
        out.table(
          [{ header: 'ID' }, { header: 'PROBLEM' }],
          result.failed.map((failure) => [failure.imageId, failure.reason]),
          '  ',
        );
      }
      printQuarantined(
        out,
        earlier,
        `${earlier.length} file${earlier.length === 1 ? '' : 's'} quarantined earlier ${earlier.length === 1 ? 'is' : 'are'} in invalid/ (clean deletes them):`,
      );
      const failed = result.failed.length;
      const repaired = lostImages(repairedAtOpen).length;
      const problems = [
        ...(failed > 0 ? [`${failed} image${failed === 1 ? '' : 's'} failed verification`] : []),
        ...(repaired > 0
          ? [`${repaired} file${repaired === 1 ? ' was' : 's were'} moved aside or dropped when the cache was opened`]
          : []),
      ];
      if (problems.length > 0) throw new OperationFailedError(`${problems.join('; ')}.`);
    });
  examples(command, ['imgcache verify', 'imgcache verify img-1 img-2', 'imgcache --json verify']);
}
