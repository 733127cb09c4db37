import { dirname, resolve } from 'node:path';
import { ImgcacheError, readConfigFile, readEnvSetting, readSecretFile, type SettingSource } from '@imgcache/core';
import type { SettingName } from './config.js';
import { ConfigError } from './errors.js';

/**
 * Settings given as a path to a secret, read in place of the setting itself. A new secret
 * (a cluster secret, say) needs its `*File` name here, a row in the flag table, and a
 * {@link SettingReader.secret} call.
 */
export type SecretFileName = 'adminTokenFile' | 'originTokenFile';

/** Every key of the flag table: a setting, or the file a secret setting is read from. */
export type FlagName = SettingName | SecretFileName;

/** How one setting is given on the command line, in the environment and in a config file (by its key). */
export interface Flag {
  /** Commander's flag syntax, e.g. `--origin <url>`. */
  flags: string;
  env: string;
  description: string;
  fallback?: string | number | boolean;
  /** A path: relative to the config file's directory when given there. */
  path?: boolean;
}

/** One value as found, before it is parsed. */
interface Found {
  value: string;
  source: Exclude<SettingSource, 'default'>;
}

/**
 * Finds each setting's value (flag, else variable, else config file, else default), parses
 * it, remembers where it came from, and re-raises a refusal under the name the value was
 * given by (the flag, the variable, or the key and the file).
 */
export class SettingReader {
  readonly sources: Partial<Record<SettingName, SettingSource>> = {};
  readonly secretFiles: Partial<Record<SettingName, string>> = {};
  private readonly file: Record<string, unknown>;

  /**
   * @param given commander's parsed options (strings, by setting name).
   * @param configFile the `--config` file, read here.
   * @throws {ConfigFileError} (core) when the config file cannot be read or parsed.
   * @throws {ConfigError} for a key of the config file that names no setting.
   */
  constructor(
    private readonly flags: Readonly<Record<FlagName, Flag>>,
    private readonly given: Record<string, unknown>,
    private readonly env: NodeJS.ProcessEnv,
    private readonly configFile: string | undefined,
  ) {
    this.file = configFile === undefined ? {} : readConfigFile(configFile);
    const known = Object.keys(flags);
    for (const key of Object.keys(this.file)) {
      if (!known.includes(key))
        throw new ConfigError(
          'config',
          `${configFile} has an unknown key ${JSON.stringify(key)}; known keys: ${known.join(', ')}`,
        );
    }
  }

  /** A setting without a default: undefined while no source gives it. */
  optional<T>(key: SettingName, parse: (value: string) => T): T | undefined {
    const found = this.find(key);
    if (found !== undefined) return this.parse(key, found, parse);
    const { fallback } = this.flags[key];
    return fallback === undefined ? undefined : this.parse(key, { value: String(fallback), source: 'default' }, parse);
  }

  withDefault<T>(key: SettingName, parse: (value: string) => T): T {
    return this.optional(key, parse)!;
  }

  required<T>(key: SettingName, parse: (value: string) => T, what: string): T {
    const value = this.optional(key, parse);
    if (value !== undefined) return value;
    const option = this.optionName(key);
    throw new ConfigError(option, `${what} is required (--${option}, ${this.flags[key].env} or "${key}" in --config)`);
  }

  /**
   * A secret given either as itself (`--admin-token`) or as a file holding it
   * (`--admin-token-file`); whichever comes from the higher source wins, and both from
   * the same source is an error.
   */
  secret<T>(key: SettingName, fileKey: SecretFileName, parse: (value: string) => T): T | undefined {
    const direct = this.find(key);
    const path = this.find(fileKey);
    if (path === undefined || (direct !== undefined && RANK[direct.source] < RANK[path.source]))
      return this.optional(key, parse);
    if (direct?.source === path.source) {
      throw new ConfigError(
        this.optionName(fileKey),
        `give either ${this.describe(key, path.source)} or ${this.describe(fileKey, path.source)}, not both`,
      );
    }
    const secret = this.parse(
      key,
      path,
      (file) => {
        this.secretFiles[key] = file;
        return readSecretFile(file, `--${this.optionName(fileKey)}`);
      },
      fileKey,
    );
    return this.parse(key, { value: secret, source: path.source }, parse, fileKey);
  }

  /** The value of a setting from the highest source that gives it. */
  private find(key: FlagName): Found | undefined {
    const flag = this.given[key];
    if (typeof flag === 'string') return { value: flag, source: 'flag' };
    const fromEnv = readEnvSetting(this.env, this.flags[key].env);
    if (fromEnv !== undefined) return { value: fromEnv, source: 'env' };
    if (!Object.hasOwn(this.file, key)) return undefined;
    const raw = this.file[key];
    if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean') {
      throw new ConfigError(this.optionName(key), `${JSON.stringify(raw)} is not a string, number or boolean`, {
        file: this.configFile!,
        key,
      });
    }
    const value =
      this.flags[key].path && typeof raw === 'string' ? resolve(dirname(this.configFile!), raw) : String(raw);
    return { value, source: 'file' };
  }

  private parse<T>(
    key: SettingName,
    found: Found | { value: string; source: 'default' },
    parse: (value: string) => T,
    givenAs: FlagName = key,
  ): T {
    this.sources[key] = found.source;
    try {
      return parse(found.value);
    } catch (error) {
      const reason =
        ImgcacheError.is(error, 'ERR_IMGCACHE_SERVER_CONFIG') || ImgcacheError.is(error, 'ERR_IMGCACHE_INVALID_SETTING')
          ? (error as unknown as { reason: string }).reason
          : undefined;
      if (reason === undefined) throw error;
      const from =
        found.source === 'env'
          ? { env: this.flags[givenAs].env }
          : found.source === 'file'
            ? { file: this.configFile!, key: givenAs }
            : undefined;
      throw new ConfigError(this.optionName(givenAs), reason, from);
    }
  }

  private describe(key: FlagName, source: Found['source']): string {
    return source === 'flag' ? `--${this.optionName(key)}` : source === 'env' ? this.flags[key].env : `"${key}"`;
  }

  /** The flag of a setting without its dashes: `logLevel` gives `log-level`. */
  private optionName(key: FlagName): string {
    return this.flags[key].flags.split(' ')[0]!.slice(2);
  }
}

/** Precedence of the sources, highest first. */
const RANK: Readonly<Record<Found['source'], number>> = { flag: 0, env: 1, file: 2 };
