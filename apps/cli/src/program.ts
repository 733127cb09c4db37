import { CHECKSUM_ALGORITHMS } from '@imgcache/core';
import { Command, InvalidArgumentError, Option } from 'commander';
import { attachIo, type CliIo } from './cli-io.js';
import { parseServerUrl } from './config.js';
import { assertCommandFitsTarget } from './context.js';
import { registerCacheImage } from './commands/cache-image.js';
import { registerClean } from './commands/clean.js';
import { registerDeleteAll } from './commands/delete-all.js';
import { registerDeleteImages } from './commands/delete-images.js';
import { registerDemo } from './commands/demo.js';
import { registerGet } from './commands/get.js';
import { registerHelp } from './commands/help.js';
import { registerImportGlance } from './commands/import-glance.js';
import { registerListCached } from './commands/list-cached.js';
import { registerListQueued } from './commands/list-queued.js';
import { registerPrefetch } from './commands/prefetch.js';
import { registerPrune } from './commands/prune.js';
import { registerQueueImage } from './commands/queue-image.js';
import { registerStats } from './commands/stats.js';
import { registerVerify } from './commands/verify.js';
import { parseDuration } from './format/parse-duration.js';
import { parseSize } from './format/parse-size.js';
import { parseChecksumAlgorithmFlag, parseDriverFlag, parsePathFlag } from './option-parsers.js';
import { VERSION } from './version.js';

const GLOBAL_HELP = `
Environment (flags win over the environment, which wins over --config, which wins over defaults):
  IMGCACHE_DIR, IMGCACHE_DRIVER, IMGCACHE_MAX_SIZE, IMGCACHE_STALL_TIME,
  IMGCACHE_CHECKSUM_ALGORITHM, IMGCACHE_URL, IMGCACHE_TOKEN

Config file (--config FILE), TOML if named *.toml, else JSON; a relative dir is relative to the file:
  {"dir": "/var/cache/imgcache", "driver": "sqlite", "maxSize": "20GiB",
   "stallTime": "24h", "checksumAlgorithm": "sha256"}
  imgcache-server's config file works as it is: its cache keys apply, its other keys are skipped.

Budget: without --max-size (or IMGCACHE_MAX_SIZE, or maxSize in --config), the budget the
directory remembers (written by imgcache-server at start, or when the cache was created).

Managing a running imgcache-server (--url, with its --admin-token as --token):
  list-cached, list-queued, queue-image, delete-cached-image, delete-queued-image,
  delete-all-cached-images and delete-all-queued-images work on the server; the other
  commands need a local --dir. A --dir flag overrides IMGCACHE_URL or a url in --config.

Sizes: bytes, or K/M/G/T/P (and KiB…PiB) in powers of 1024, KB…PB in powers of 1000; e.g. .5G, 1PiB.
Durations: seconds, or s/m/h/d; e.g. 90s, 1.5m, 24h.

Exit status: 0 ok, 1 the operation failed, 2 usage error.

Examples:
  $ imgcache list-cached
  $ imgcache --dir /var/cache/imgcache --max-size 20GiB prune --dry-run
  $ imgcache queue-image 0a1b2c3d-aaaa-bbbb-cccc-000000000001
  $ imgcache prefetch --origin 'http://glance:9292/v2/images/{id}/file'
  $ imgcache --json stats
  $ IMGCACHE_TOKEN=secret imgcache --url http://cache.internal:9393 list-cached
`;

/**
 * Builds the `imgcache` command line for one run with `io` (see run-program.ts, which
 * parses and runs it). Usage errors are thrown as commander errors (mapped to exit status
 * 2) instead of exiting the process here; help, version and commander's messages are
 * written to `io.stdout` and `io.stderr`.
 */
export function buildProgram(io: CliIo): Command {
  const program = new Command('imgcache')
    .description(
      'Manage an imgcache image cache directory (list, queue, cache, prefetch, prune, clean and verify images), or a running imgcache-server with --url.',
    )
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .addOption(
      new Option('--dir <path>', 'cache directory (default: the user cache dir, e.g. ~/.cache/imgcache)').argParser(
        parsePathFlag,
      ),
    )
    .addOption(
      new Option('--driver <name>', 'metadata driver: sqlite, xattr or a package name (default: sqlite)').argParser(
        parseDriverFlag,
      ),
    )
    .addOption(
      new Option(
        '--max-size <size>',
        "cache budget that prune enforces, e.g. 10GiB, 500M (default: the directory's remembered budget, else 10GiB)",
      ).argParser(parseSize),
    )
    .addOption(
      new Option(
        '--stall-time <duration>',
        'age after which an unfinished write is stalled, e.g. 3600, 24h (default: 24h)',
      ).argParser(parseDuration),
    )
    // choices() lists the values in the help; the parser after it accepts any letter case.
    .addOption(
      new Option('--checksum-algorithm <name>', 'digest recorded for new images (default: sha256)')
        .choices(CHECKSUM_ALGORITHMS)
        .argParser(parseChecksumAlgorithmFlag),
    )
    .addOption(
      new Option('--config <file>', 'config file, TOML (*.toml) or JSON (lowest precedence after defaults)').argParser(
        parsePathFlag,
      ),
    )
    .addOption(
      new Option('--url <url>', 'manage a running imgcache-server at this URL instead of a local dir').argParser(
        parseServerUrl,
      ),
    )
    .addOption(new Option('--token <token>', "the server's admin token (prefer IMGCACHE_TOKEN: flags show in ps)"))
    .addOption(
      new Option(
        '--timeout <duration>',
        'how long a request to the server may take, e.g. 10, 2m (default: 30s)',
      ).argParser(parseTimeout),
    )
    .addOption(new Option('--json', 'print machine-readable JSON (exact bytes, ISO times)'))
    .addOption(new Option('-v, --verbose', 'more detail: ISO times, checksums, debug lines on stderr'))
    .addOption(new Option('--debug', 'print stack traces of errors'))
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    // Set before the subcommands are added, which copy it.
    .configureOutput({
      writeOut: (text) => void io.stdout.write(text),
      writeErr: (text) => void io.stderr.write(text),
      // Commander's own defaults, read from the run's streams: a terminal's width, else 80.
      getOutHelpWidth: () => (io.stdout.isTTY && io.stdout.columns) || 80,
      getErrHelpWidth: () => (io.stderr.isTTY && io.stderr.columns) || 80,
      getOutHasColors: () => Boolean(io.stdout.isTTY && io.stdout.hasColors?.(io.env)),
      getErrHasColors: () => Boolean(io.stderr.isTTY && io.stderr.hasColors?.(io.env)),
    })
    .addHelpText('after', GLOBAL_HELP)
    // Local-only commands refuse a server URL before they validate or open anything.
    .hook('preAction', (_program, actionCommand) =>
      actionCommand.name() === 'help' ? undefined : assertCommandFitsTarget(actionCommand),
    );

  attachIo(program, io);
  registerListCached(program);
  registerListQueued(program);
  registerQueueImage(program);
  registerDeleteImages(program);
  registerDeleteAll(program);
  registerCacheImage(program);
  registerGet(program);
  registerPrune(program);
  registerClean(program);
  registerVerify(program);
  registerStats(program);
  registerPrefetch(program);
  registerImportGlance(program);
  registerDemo(program);
  registerHelp(program);
  return program;
}

/** A request timeout: a positive duration. */
function parseTimeout(text: string): number {
  const seconds = parseDuration(text);
  if (seconds <= 0) throw new InvalidArgumentError('must be longer than 0 seconds.');
  return seconds;
}
