import type { Command } from 'commander';
import { contextFor, withCache } from '../context.js';
import { formatDuration } from '../format/format-age.js';
import { examples } from '../help.js';

/** `clean`: reaps `invalid/` and writes stalled longer than the configured stall time. */
export function registerClean(program: Command): void {
  const command = program
    .command('clean')
    .description('delete failed writes (invalid/) and writes stalled longer than --stall-time (incomplete/)')
    .action(async (_options: object, self: Command) => {
      const context = await contextFor(self);
      const { stallTime } = context.config;
      const result = await withCache(context, (cache) => cache.clean(stallTime));
      context.out.data({ stallTime, ...result });
      context.out.line(
        `Removed ${result.incomplete} stalled write${result.incomplete === 1 ? '' : 's'} (unchanged for ${formatDuration(stallTime)}) ` +
          `and ${result.invalid} invalid file${result.invalid === 1 ? '' : 's'}.`,
      );
    });
  examples(command, ['imgcache clean', 'imgcache clean --stall-time 1h', 'imgcache clean --stall-time 0   # every write not running in a live process']);
}
