import { assertValidImageId } from '@imgcache/core';
import type { Command } from 'commander';
import { contextFor, withCache } from '../context.js';
import { OperationFailedError } from '../errors.js';
import { examples } from '../help.js';

/** `verify [ID…]`: re-hashes files; failures are quarantined by core and make the exit status 1. */
export function registerVerify(program: Command): void {
  const command = program
    .command('verify')
    .description('re-hash cached files against their recorded checksum; failures are moved to invalid/ (exit 1)')
    .argument('[id...]', 'image ids (default: every cached image)')
    .action(async (ids: string[], _options: object, self: Command) => {
      ids.forEach((id) => assertValidImageId(id));
      const context = await contextFor(self);
      const result = await withCache(context, (cache) => cache.verify(ids.length > 0 ? ids : undefined));
      const { out } = context;
      out.data(result);
      const checked = `Verified ${result.checked} image${result.checked === 1 ? '' : 's'}`;
      if (result.failed.length === 0) return out.line(`${checked}: all intact.`);
      out.line(`${checked}: ${result.failed.length} failed (corrupt ones moved to invalid/):`);
      out.table([{ header: 'ID' }, { header: 'PROBLEM' }], result.failed.map((failure) => [failure.imageId, failure.reason]), '  ');
      throw new OperationFailedError(`${result.failed.length} image${result.failed.length === 1 ? '' : 's'} failed verification.`);
    });
  examples(command, ['imgcache verify', 'imgcache verify img-1 img-2', 'imgcache --json verify']);
}
