import { SERVER_ONLY_SETTINGS } from '@imgcache/core';
import type { ServerConfig, SettingName } from './config.js';

/**
 * Where a secret came from: a flag, the environment or the config file (the token itself),
 * a token file (`--admin-token-file`, its variable or its config key: `file`), the caller
 * of `startServer`, or nowhere.
 */
export type SecretOrigin = 'flag' | 'env' | 'file' | 'options' | 'unset';

/** Every security-relevant mode of a server, as logged at startup. Never holds a secret. */
export interface SecurityModes {
  /** `authorised`: the origin authorises each client before a hit; `public`: anyone gets hits. */
  hits: 'public' | 'authorised';
  /** Seconds a positive origin decision is remembered (authorised hits only). */
  authTtl: number;
  /** Seconds after an authorisation that a client is still served while the origin cannot be asked (0: never). */
  authStale: number;
  /** The management API answers only when an admin token is set. */
  managementApi: 'on' | 'off';
  adminToken: SecretOrigin;
  originToken: SecretOrigin;
  /** Address the server listens on (all interfaces for 0.0.0.0 or ::). */
  host: string;
  /** X-Accel-Redirect prefix hits are handed to nginx under, or null when this server sends them. */
  accelRedirect: string | null;
  /** Present only with `--cluster`: peer requests are accepted when signed with the shared secret. */
  cluster?: { advertiseUrl: string; secret: SecretOrigin | 'file' };
}

/**
 * The security modes of `config`, the one-line message that states them, and warnings for
 * settings that have no effect in these modes (logged beside it at startup).
 */
export function describeSecurityModes(config: ServerConfig): {
  modes: SecurityModes;
  message: string;
  warnings: string[];
} {
  const modes: SecurityModes = {
    hits: config.public ? 'public' : 'authorised',
    authTtl: config.authTtl,
    authStale: config.public ? 0 : (config.authStale ?? 0),
    managementApi: config.adminToken ? 'on' : 'off',
    adminToken: secretOrigin(config, 'adminToken'),
    originToken: secretOrigin(config, 'originToken'),
    host: config.host,
    accelRedirect: config.accelRedirect ?? null,
  };
  const hits = config.public
    ? 'hits public (no origin authorisation: anyone who reaches this server gets cached images)'
    : `hits authorised by the origin per client (remembered ${config.authTtl} s${modes.authStale > 0 ? `; while the origin cannot be asked, served on an authorisation up to ${modes.authStale} s old` : ''})`;
  const management = config.adminToken
    ? `management API on (admin token from ${describe(config, 'adminToken')})`
    : 'management API off (no admin token)';
  const originToken = config.originToken ? `origin token from ${describe(config, 'originToken')}` : 'no origin token';
  // An offload location that is not `internal` in nginx would hand cached files to anyone.
  const proxies = config.trustProxy
    ? `; client addresses taken from X-Forwarded-For of ${config.trustProxy.join(', ')}`
    : '';
  const offload = config.accelRedirect
    ? `; hits sent by nginx via X-Accel-Redirect under ${config.accelRedirect} (that nginx location must be internal)`
    : '';
  let cluster = '';
  if (config.cluster) {
    const secret = config.clusterSecretFile !== undefined ? 'file' : secretOrigin(config, 'clusterSecret');
    modes.cluster = { advertiseUrl: config.advertiseUrl ?? '', secret };
    const from =
      config.clusterSecretFile !== undefined
        ? `--cluster-secret-file ${config.clusterSecretFile}`
        : secret === 'flag'
          ? '--cluster-secret'
          : secret === 'env'
            ? 'IMGCACHE_CLUSTER_SECRET'
            : secret === 'file'
              ? '"clusterSecret" in the config file'
              : 'the startServer options';
    cluster = `; cluster on: peers reach this node at ${modes.cluster.advertiseUrl} and must sign their requests with the shared secret (from ${from})`;
  }
  const warnings: string[] = [];
  // Public hits never ask the origin, so there is no authorisation to serve stale.
  if (config.public && (config.authStale ?? 0) > 0) {
    warnings.push(
      `security: ${settingName(config, 'authStale', '--auth-stale', 'IMGCACHE_AUTH_STALE')} ${config.authStale} has no effect with --public: hits are served without asking the origin`,
    );
  }
  const unused = config.cluster
    ? []
    : CLUSTER_ONLY.filter((key) => config[key] !== undefined && config.sources?.[key] !== 'default');
  if (unused.length > 0) {
    // Most likely a typo or an unset IMGCACHE_CLUSTER_URL: the operator meant a cluster.
    warnings.push(
      `cluster: ${unused.map(flagOf).join(', ')} ${unused.length === 1 ? 'has' : 'have'} no effect without --cluster (IMGCACHE_CLUSTER_URL): this node runs alone`,
    );
  }
  return {
    modes,
    message: `security: ${hits}; ${management}; ${originToken}; listening on ${config.host}${proxies}${offload}${cluster}`,
    warnings,
  };
}

function secretOrigin(config: ServerConfig, key: 'adminToken' | 'originToken' | 'clusterSecret'): SecretOrigin {
  if (!config[key]) return 'unset';
  if (key !== 'clusterSecret' && config.secretFiles?.[key] !== undefined) return 'file';
  const source = config.sources?.[key];
  return source === 'flag' || source === 'env' || source === 'file' ? source : 'options';
}

/** Flag and variable of each secret, and of the file it can be read from. */
const SECRET_NAMES = {
  adminToken: { flag: '--admin-token', env: 'IMGCACHE_ADMIN_TOKEN', key: 'adminToken' },
  originToken: { flag: '--origin-token', env: 'IMGCACHE_ORIGIN_TOKEN', key: 'originToken' },
} as const;

function describe(config: ServerConfig, key: 'adminToken' | 'originToken'): string {
  const names = SECRET_NAMES[key];
  // Where the value (or the token file's path) was given, not the `file` of a token file.
  const origin = config.sources?.[key];
  const path = config.secretFiles?.[key];
  // A secret read from a file is named by its file flag (never its value): `--admin-token-file /run/secrets/admin`.
  const suffix = path === undefined ? '' : '-file';
  const file = path === undefined ? '' : ` ${path}`;
  if (origin === 'flag') return `${names.flag}${suffix}${file}`;
  if (origin === 'env') return `${names.env}${suffix.replace('-', '_').toUpperCase()}${file}`;
  // The path is the token file's, not the config file's: say which is which.
  if (origin === 'file')
    return `"${names.key}${path === undefined ? '' : 'File'}" in the config file${path === undefined ? '' : ` (${path})`}`;
  return 'the startServer options';
}

/** Settings that only mean something in a cluster: core's server-only cluster keys, bar `cluster` itself. */
const CLUSTER_ONLY = SERVER_ONLY_SETTINGS.filter(
  (key): key is Extract<(typeof SERVER_ONLY_SETTINGS)[number], 'advertiseUrl' | `cluster${string}`> =>
    key === 'advertiseUrl' || /^cluster./.test(key),
);

/** `advertiseUrl` → `--advertise-url` (the flag table's rule for these settings). */
function flagOf(key: string): string {
  return `--${key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
}

/** How the operator gave a setting: its flag, its variable, or its key in the config file. */
function settingName(config: ServerConfig, key: SettingName, flag: string, env: string): string {
  const source = config.sources?.[key];
  if (source === 'env') return env;
  if (source === 'file') return `"${key}" in the config file`;
  return flag;
}
