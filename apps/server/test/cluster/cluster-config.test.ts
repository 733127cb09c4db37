import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseArguments } from '../../src/cli-options.js';
import { signPeerRequest, verifyPeerRequest } from '../../src/cluster/peer-auth.js';
import { CopyPolicy } from '../../src/cluster/copy-policy.js';
import { ConfigError } from '../../src/errors.js';
import { describeSecurityModes } from '../../src/security-modes.js';

const BASE = ['--origin', 'http://glance:9292', '--dir', '/tmp/c'];
const SECRET = 'a'.repeat(40);
const CLUSTER = [...BASE, '--cluster', 'postgres://u:p@db:5432/imgcache', '--advertise-url', 'http://10.0.0.5:9393'];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'imgcache-cluster-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function configError(work: () => unknown): ConfigError {
  try {
    work();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('no ConfigError was thrown');
}

describe('cluster settings', () => {
  it('leaves a server without --cluster a single node', () => {
    const config = parseArguments(BASE, {});
    expect(config.cluster).toBeUndefined();
    expect(describeSecurityModes(config).modes.cluster).toBeUndefined();
    expect(describeSecurityModes(config).message).not.toMatch(/cluster/);
  });

  it('reads the cluster flags and their variables', () => {
    const config = parseArguments(
      [...CLUSTER, '--cluster-weight', '2.5', '--cluster-copy', 'NEVER', '--cluster-heartbeat', '0.5'],
      { IMGCACHE_CLUSTER_SECRET: SECRET },
    );
    expect(config).toMatchObject({
      cluster: 'postgres://u:p@db:5432/imgcache',
      advertiseUrl: 'http://10.0.0.5:9393',
      clusterSecret: SECRET,
      clusterWeight: 2.5,
      clusterCopy: 'never',
      clusterHotHits: 3,
      clusterHeartbeat: 0.5,
      clusterDeadAfter: 60,
    });
    const fromEnv = parseArguments(BASE, {
      IMGCACHE_CLUSTER_URL: 'postgresql://db/x',
      IMGCACHE_ADVERTISE_URL: 'http://n1:9393/',
      IMGCACHE_CLUSTER_SECRET: SECRET,
    });
    expect(fromEnv).toMatchObject({ cluster: 'postgresql://db/x', advertiseUrl: 'http://n1:9393' });
  });

  it('needs an advertised URL and a secret with --cluster', () => {
    expect(
      configError(() => parseArguments([...BASE, '--cluster', 'postgres://db/x', '--cluster-secret', SECRET], {}))
        .option,
    ).toBe('advertise-url');
    expect(configError(() => parseArguments(CLUSTER, {})).option).toBe('cluster-secret');
  });

  it('refuses a database URL that is not PostgreSQL, an advertised URL with a path, and a short secret', () => {
    expect(configError(() => parseArguments([...BASE, '--cluster', 'mysql://db/x'], {})).message).toMatch(/postgres/);
    expect(
      configError(() =>
        parseArguments([...CLUSTER.slice(0, -1), 'http://n1:9393/cache', '--cluster-secret', SECRET], {}),
      ).option,
    ).toBe('advertise-url');
    const short = configError(() => parseArguments(CLUSTER, { IMGCACHE_CLUSTER_SECRET: 'short' }));
    expect(short.message).toMatch(/IMGCACHE_CLUSTER_SECRET.*at least 32/);
    expect(short.message).not.toContain('short');
    expect(
      configError(() =>
        parseArguments(
          [...CLUSTER, '--cluster-secret', SECRET, '--cluster-heartbeat', '30', '--cluster-dead-after', '60'],
          {},
        ),
      ).option,
    ).toBe('cluster-dead-after');
  });

  it('reads the secret from a file, refuses it given twice, and names only where it came from at startup', async () => {
    const file = join(dir, 'secret');
    await writeFile(file, `${SECRET}\n`);
    const config = parseArguments([...CLUSTER, '--cluster-secret-file', file], {});
    expect(config.clusterSecret).toBe(SECRET);
    const { modes, message } = describeSecurityModes(config);
    expect(modes.cluster).toEqual({ advertiseUrl: 'http://10.0.0.5:9393', secret: 'file' });
    expect(message).toContain(
      `cluster on: peers reach this node at http://10.0.0.5:9393 and must sign their requests with the shared secret (from --cluster-secret-file ${file})`,
    );
    expect(message + JSON.stringify(modes)).not.toContain(SECRET);
    expect(
      configError(() => parseArguments([...CLUSTER, '--cluster-secret-file', file, '--cluster-secret', SECRET], {}))
        .option,
    ).toBe('cluster-secret-file');
    expect(
      configError(() => parseArguments([...CLUSTER, '--cluster-secret-file', join(dir, 'missing')], {})).message,
    ).toMatch(/ENOENT/);
    expect(describeSecurityModes(parseArguments(CLUSTER, { IMGCACHE_CLUSTER_SECRET: SECRET })).message).toContain(
      '(from IMGCACHE_CLUSTER_SECRET)',
    );
  });
});

describe('peer signatures', () => {
  const path = '/v2/images/abc/file';
  const now = 1_800_000_000_000;

  it('accept a signature of the same secret, method and path, within five minutes', () => {
    const header = signPeerRequest(SECRET, 'node-1', 'GET', path, now);
    expect(verifyPeerRequest(SECRET, header, 'GET', path, now + 299_000)).toBe('node-1');
  });

  it('refuse another secret, path or method, an old signature, and a changed node id', () => {
    const header = signPeerRequest(SECRET, 'node-1', 'GET', path, now);
    expect(verifyPeerRequest('b'.repeat(40), header, 'GET', path, now)).toBeNull();
    expect(verifyPeerRequest(SECRET, header, 'GET', '/v2/images/other/file', now)).toBeNull();
    expect(verifyPeerRequest(SECRET, header, 'DELETE', path, now)).toBeNull();
    expect(verifyPeerRequest(SECRET, header, 'GET', path, now + 301_000)).toBeNull();
    expect(verifyPeerRequest(SECRET, header.replace('node-1', 'node-2'), 'GET', path, now)).toBeNull();
    expect(verifyPeerRequest(SECRET, 'garbage', 'GET', path, now)).toBeNull();
  });
});

describe('copy policy of a non-owner', () => {
  it('keeps always, never, or from the N-th request on when hot', () => {
    expect(new CopyPolicy('always', 3).keep('x')).toBe(true);
    expect(new CopyPolicy('never', 3).keep('x')).toBe(false);
    const hot = new CopyPolicy('hot', 3);
    expect([hot.keep('x'), hot.keep('x'), hot.keep('y'), hot.keep('x')]).toEqual([false, false, false, true]);
  });
});
