import type { ServerConfig } from './config.js';

/** Where a secret came from: a flag, the environment, the caller of `startServer`, or nowhere. */
export type SecretOrigin = 'flag' | 'env' | 'options' | 'unset';

/** Every security-relevant mode of a server, as logged at startup. Never holds a secret. */
export interface SecurityModes {
  /** `authorised`: the origin authorises each client before a hit; `public`: anyone gets hits. */
  hits: 'public' | 'authorised';
  /** Seconds a positive origin decision is remembered (authorised hits only). */
  authTtl: number;
  /** The management API answers only when an admin token is set. */
  managementApi: 'on' | 'off';
  adminToken: SecretOrigin;
  originToken: SecretOrigin;
  /** Address the server listens on (all interfaces for 0.0.0.0 or ::). */
  host: string;
  /** Present only with `--cluster`: peer requests are accepted when signed with the shared secret. */
  cluster?: { advertiseUrl: string; secret: SecretOrigin | 'file' };
}

/** The security modes of `config` and the one-line message that states them. */
export function describeSecurityModes(config: ServerConfig): { modes: SecurityModes; message: string } {
  const modes: SecurityModes = {
    hits: config.public ? 'public' : 'authorised',
    authTtl: config.authTtl,
    managementApi: config.adminToken ? 'on' : 'off',
    adminToken: secretOrigin(config, 'adminToken'),
    originToken: secretOrigin(config, 'originToken'),
    host: config.host,
  };
  const hits = config.public
    ? 'hits public (no origin authorisation: anyone who reaches this server gets cached images)'
    : `hits authorised by the origin per client (remembered ${config.authTtl} s)`;
  const management = config.adminToken ? `management API on (admin token from ${describe(modes.adminToken, '--admin-token', 'IMGCACHE_ADMIN_TOKEN')})` : 'management API off (no admin token)';
  const originToken = config.originToken ? `origin token from ${describe(modes.originToken, '--origin-token', 'IMGCACHE_ORIGIN_TOKEN')}` : 'no origin token';
  let cluster = '';
  if (config.cluster) {
    const secret = config.clusterSecretFile !== undefined ? 'file' : secretOrigin(config, 'clusterSecret');
    modes.cluster = { advertiseUrl: config.advertiseUrl ?? '', secret };
    const from = secret === 'file' ? `--cluster-secret-file ${config.clusterSecretFile}` : describe(secret, '--cluster-secret', 'IMGCACHE_CLUSTER_SECRET');
    cluster = `; cluster on: peers reach this node at ${modes.cluster.advertiseUrl} and must sign their requests with the shared secret (from ${from})`;
  }
  return { modes, message: `security: ${hits}; ${management}; ${originToken}; listening on ${config.host}${cluster}` };
}

function secretOrigin(config: ServerConfig, key: 'adminToken' | 'originToken' | 'clusterSecret'): SecretOrigin {
  if (!config[key]) return 'unset';
  const source = config.sources?.[key];
  return source === 'flag' || source === 'env' ? source : 'options';
}

function describe(origin: SecretOrigin, flag: string, env: string): string {
  return origin === 'flag' ? flag : origin === 'env' ? env : 'the startServer options';
}
