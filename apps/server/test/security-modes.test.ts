import { describe, expect, it } from 'vitest';
import type { ServerConfig } from '../src/config.js';
import { describeSecurityModes } from '../src/security-modes.js';

const config: ServerConfig = {
  origin: 'http://glance:9292',
  host: '0.0.0.0',
  port: 9393,
  dir: '/tmp/c',
  driver: 'sqlite',
  maxSize: 1024,
  minFree: { bytes: 0 },
  stallTime: 60,
  checksumAlgorithm: 'sha256',
  public: false,
  authTtl: 60,
  prefetchConcurrency: 1,
  maintenanceInterval: 0,
  logLevel: 'info',
  rangeMiss: 'fill',
};

describe('security modes', () => {
  it('names a token passed to startServer directly as coming from its options, and never includes it', () => {
    const { modes, message } = describeSecurityModes({
      ...config,
      adminToken: 'admin-secret',
      originToken: 'origin-secret',
    });
    expect(modes).toEqual({
      hits: 'authorised',
      authTtl: 60,
      authStale: 0,
      managementApi: 'on',
      adminToken: 'options',
      originToken: 'options',
      host: '0.0.0.0',
      accelRedirect: null,
    });
    expect(message).toBe(
      'security: hits authorised by the origin per client (remembered 60 s); management API on (admin token from the startServer options); ' +
        'origin token from the startServer options; listening on 0.0.0.0',
    );
    expect(JSON.stringify(modes) + message).not.toMatch(/secret/);
  });

  it('says plainly when hits are public and the management API is off', () => {
    const { modes, message } = describeSecurityModes({ ...config, public: true, sources: { public: 'env' } });
    expect(modes).toMatchObject({ hits: 'public', managementApi: 'off', adminToken: 'unset', originToken: 'unset' });
    expect(message).toBe(
      'security: hits public (no origin authorisation: anyone who reaches this server gets cached images); management API off (no admin token); no origin token; listening on 0.0.0.0',
    );
  });

  it('names the X-Accel-Redirect offload and the internal location it relies on', () => {
    const { modes, message } = describeSecurityModes({ ...config, accelRedirect: '/_imgcache/' });
    expect(modes.accelRedirect).toBe('/_imgcache/');
    expect(message).toMatch(
      /hits sent by nginx via X-Accel-Redirect under \/_imgcache\/ \(that nginx location must be internal\)$/,
    );
  });

  it('states the stale-authorisation window when --auth-stale is set', () => {
    const { modes, message } = describeSecurityModes({ ...config, authStale: 900 });
    expect(modes).toMatchObject({ hits: 'authorised', authStale: 900 });
    expect(message).toMatch(
      /^security: hits authorised by the origin per client \(remembered 60 s; while the origin cannot be asked, served on an authorisation up to 900 s old\);/,
    );
  });

  it('warns that cluster settings do nothing without --cluster, naming them, and stays quiet in a cluster', () => {
    const alone = describeSecurityModes({
      ...config,
      advertiseUrl: 'http://node-1:9393',
      clusterSecret: 'a-shared-secret-of-enough-length-0123456789',
      clusterWeight: 2,
      sources: { advertiseUrl: 'flag', clusterSecret: 'env', clusterWeight: 'default' },
    });
    expect(alone.warnings).toEqual([
      'cluster: --advertise-url, --cluster-secret have no effect without --cluster (IMGCACHE_CLUSTER_URL): this node runs alone',
    ]);
    const clustered = describeSecurityModes({
      ...config,
      cluster: 'postgres://db/imgcache',
      advertiseUrl: 'http://node-1:9393',
      clusterSecret: 'a-shared-secret-of-enough-length-0123456789',
    });
    expect(clustered.warnings).toEqual([]);
  });

  it('names where a setting came from: the auth-stale variable, a token file named in the config file', () => {
    const fromEnv = describeSecurityModes({ ...config, public: true, authStale: 60, sources: { authStale: 'env' } });
    expect(fromEnv.warnings).toEqual([
      'security: IMGCACHE_AUTH_STALE 60 has no effect with --public: hits are served without asking the origin',
    ]);
    const fromFile = describeSecurityModes({
      ...config,
      adminToken: 'from-a-file',
      sources: { adminToken: 'file' },
      secretFiles: { adminToken: '/etc/imgcache/admin-token' },
    });
    expect(fromFile.message).toContain('"adminTokenFile" in the config file (/etc/imgcache/admin-token)');
    expect(fromFile.message).not.toContain('from-a-file');
  });
});
