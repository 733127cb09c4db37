import { openConfiguredCache, type ImageCache, type Logger } from '@imgcache/core';
import type { Command } from 'commander';
import { ioFor, type CliIo } from './cli-io.js';
import { resolveSettings, type BudgetSource, type CacheConfig, type ResolvedSettings } from './config.js';
import { UsageError } from './errors.js';
import { createCliLogger } from './logger.js';
import { Output } from './output.js';
import { ManagementClient } from './remote/management-client.js';
import { VERSION } from './version.js';

/** The global options every command understands (see program.ts). */
export interface GlobalOptions {
  dir?: string;
  driver?: string;
  maxSize?: number;
  stallTime?: number;
  checksumAlgorithm?: CacheConfig['checksumAlgorithm'];
  config?: string;
  url?: string;
  token?: string;
  timeout?: number;
  json?: boolean;
  verbose?: boolean;
  debug?: boolean;
}

/** What a command needs besides its own arguments. */
export interface CommandContext {
  config: CacheConfig;
  /** Where `config.maxSize` came from (a flag, the environment, the config file, the directory's remembered budget, the default). */
  budgetSource: BudgetSource;
  /** The server to manage instead of the local directory, when `--url` (or its env/config) is set. */
  remote: ManagementClient | undefined;
  /** The streams, environment and working directory of this run. */
  io: CliIo;
  out: Output;
  logger: Logger;
  verbose: boolean;
  json: boolean;
}

/**
 * Builds the context from the global options of the command being run.
 * @throws {UsageError} for a bad config file or environment value.
 */
export async function contextFor(command: Command): Promise<CommandContext> {
  const options = command.optsWithGlobals<GlobalOptions>();
  const verbose = options.verbose ?? false;
  const json = options.json ?? false;
  const { cache: config, budgetSource, remote } = await settingsFor(command);
  const client = remote && remoteAllowed(command) ? new ManagementClient(remote) : undefined;
  const io = ioFor(command);
  const logger = createCliLogger({ verbose, write: (line) => void io.stderr.write(line) });
  return { config, budgetSource, remote: client, io, out: new Output(json, verbose, io.stdout), logger, verbose, json };
}

/** Commands that can manage a running server, and with which of their options; all others need a local cache directory. */
const REMOTE_COMMANDS = new WeakMap<Command, (options: Record<string, unknown>) => boolean>();

/**
 * Marks a command as able to manage a running server given with `--url`; with `when`,
 * only when its options say so (`stats --scope cluster`, say).
 */
export function allowRemote(
  command: Command,
  when: (options: Record<string, unknown>) => boolean = () => true,
): Command {
  REMOTE_COMMANDS.set(command, when);
  return command;
}

function remoteAllowed(command: Command): boolean {
  return REMOTE_COMMANDS.get(command)?.(command.opts()) ?? false;
}

/** Where the server offers the job of a local-only command in another form. */
const SERVER_ALTERNATIVE: Readonly<Record<string, string>> = {
  prefetch: 'the server prefetches queued images itself: use queue-image with --url',
  prune: 'the server prunes in its maintenance passes; --scope cluster prunes every node of a cluster now',
  clean: 'the server cleans in its maintenance passes; --scope cluster cleans every node of a cluster now',
  stats: 'the server reports its figures at /metrics; --scope cluster shows every node of a cluster',
  get: 'download the image through the server at /v2/images/ID/file',
};

/**
 * Refuses, before the command runs, a command that needs a local directory while a server
 * URL is set (exit 2). Runs as the program's `preAction` hook.
 * @throws {UsageError} for a local-only command with a server URL.
 */
export async function assertCommandFitsTarget(command: Command): Promise<void> {
  // Bad settings are reported by contextFor, after the command has checked its arguments as before.
  const settings = await settingsFor(command).catch(() => undefined);
  const remote = settings?.remote;
  if (!remote || remoteAllowed(command)) return;
  const alternative = SERVER_ALTERNATIVE[command.name()];
  throw new UsageError(
    `${command.name()} needs a local cache directory (--dir); it cannot work on the server at ${remote.url.href}` +
      `${alternative ? ` (${alternative})` : ''}. Run it without --url, IMGCACHE_URL or a url in the config file, or pass --dir.`,
  );
}

/** Settings are resolved once per run, so the config file is read once even though the hook and the action both need it. */
const resolved = new WeakMap<Command, Promise<ResolvedSettings>>();

function settingsFor(command: Command): Promise<ResolvedSettings> {
  let settings = resolved.get(command);
  if (!settings) {
    const { env, cwd } = ioFor(command);
    settings = resolveSettings(command.optsWithGlobals<GlobalOptions>(), env, cwd);
    resolved.set(command, settings);
  }
  return settings;
}

/**
 * Opens the cache with the resolved settings (core's openConfiguredCache, as the server
 * does), runs `work`, and always closes the cache. A cache this run creates remembers the
 * budget it was created with. Driver packages are imported from the CLI's own
 * dependencies, so `--driver xattr` finds the xattr driver; core falls back to SQLite (with
 * a warning) when it is unusable.
 */
export async function withCache<T>(context: CommandContext, work: (cache: ImageCache) => Promise<T>): Promise<T> {
  const { config, logger } = context;
  const cache = await openConfiguredCache(config, {
    importer: (specifier) => import(specifier),
    logger,
    rememberBudget: 'at-creation',
    program: `imgcache ${VERSION}`,
  });
  try {
    // Core's startup reconcile has already warned of each repair, naming the image and the cause.
    logger.debug({ dir: cache.layout.root, driver: cache.driverName }, 'opened cache');
    return await work(cache);
  } finally {
    await cache.close();
  }
}
