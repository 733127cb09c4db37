import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { createCommand, parseArguments } from '../src/cli-options.js';
import { randomImage, startHarness, type Harness } from './helpers/harness.js';
import { send } from './helpers/http-client.js';

const deploy = (path: string) => fileURLToPath(new URL(`../../../deploy/${path}`, import.meta.url));
const read = (path: string) => readFileSync(deploy(path), 'utf8');
const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

/** Every IMGCACHE_* variable the server reads, from its own command definition. */
const SERVER_VARIABLES = new Set(
  createCommand().options.flatMap((option) => /\(env: (IMGCACHE_\w+)/.exec(option.description)?.[1] ?? []),
);

/** The Node options the systemd unit sets (`Environment=NODE_OPTIONS=…`), split into flags. */
const unitNodeOptions = () =>
  (/^Environment=NODE_OPTIONS=(.*)$/m.exec(read('systemd/imgcache-server.service'))?.[1] ?? '')
    .trim()
    .split(/\s+/)
    .filter(Boolean);

/** A systemd unit: section → key → values in order (a key may repeat). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const line of text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((raw) => raw.trim())) {
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const index = line.indexOf('=');
    if (!current || index < 1) throw new Error(`not a unit line: ${line}`);
    const key = line.slice(0, index).trim();
    current.set(key, [...(current.get(key) ?? []), line.slice(index + 1).trim()]);
  }
  return sections;
}

/** Dockerfile instructions, continuation lines joined, per stage. */
function parseDockerfile(text: string): { instruction: string; args: string }[][] {
  const stages: { instruction: string; args: string }[][] = [];
  for (const line of text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((raw) => raw.trim())) {
    if (line === '' || line.startsWith('#')) continue;
    const [, instruction, args] = /^(\w+)\s+(.*)$/.exec(line)!;
    if (instruction!.toUpperCase() === 'FROM') stages.push([]);
    stages.at(-1)?.push({ instruction: instruction!.toUpperCase(), args: args! });
  }
  return stages;
}

/** Parses IMGCACHE_* settings the way the server does; throws the server's error for an unknown or bad one. */
function checkSettings(env: Record<string, string>, argv: string[] = []) {
  for (const name of Object.keys(env)) expect(SERVER_VARIABLES, `${name} is not a server variable`).toContain(name);
  return parseArguments(argv, {
    IMGCACHE_ORIGIN: 'http://glance.internal:9292',
    IMGCACHE_DIR: '/var/cache/imgcache',
    ...env,
  });
}

describe('deploy/systemd', () => {
  const unit = parseUnit(read('systemd/imgcache-server.service'));
  const service = unit.get('Service')!;
  const value = (key: string) => service.get(key)?.at(-1);

  it('is a hardened service with a dynamic user that can write only its cache directory', () => {
    expect([...unit.keys()]).toEqual(['Unit', 'Service', 'Install']);
    expect(unit.get('Install')!.get('WantedBy')).toEqual(['multi-user.target']);
    expect({
      DynamicUser: value('DynamicUser'),
      ProtectSystem: value('ProtectSystem'),
      NoNewPrivileges: value('NoNewPrivileges'),
      ProtectHome: value('ProtectHome'),
      PrivateTmp: value('PrivateTmp'),
      PrivateDevices: value('PrivateDevices'),
      CapabilityBoundingSet: value('CapabilityBoundingSet'),
      RestrictAddressFamilies: value('RestrictAddressFamilies'),
      SystemCallErrorNumber: value('SystemCallErrorNumber'),
    }).toEqual({
      DynamicUser: 'yes',
      ProtectSystem: 'strict',
      NoNewPrivileges: 'yes',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateDevices: 'yes',
      CapabilityBoundingSet: '',
      RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX',
      SystemCallErrorNumber: 'EPERM',
    });
    expect(service.get('SystemCallFilter')).toContain('@system-service');
    expect(value('ReadWritePaths')).toBe('%C/imgcache');
    expect(value('CacheDirectory')).toBe('imgcache');
    // V8's JIT needs writable executable memory: Node would not start under this option.
    expect(service.has('MemoryDenyWriteExecute')).toBe(false);
  });

  it('starts Node with a small young generation, through NODE_OPTIONS that Node accepts', () => {
    const flags = unitNodeOptions();
    expect(flags).toContainEqual(expect.stringMatching(/^--max-semi-space-size=\d+$/));
    // Node refuses (exit 9) a V8 flag it does not allow in NODE_OPTIONS, so the service would not start.
    const probe = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.execArgv.length))'], {
      env: { ...process.env, NODE_OPTIONS: flags.join(' ') },
      encoding: 'utf8',
    });
    expect(probe.stderr).toBe('');
    expect(probe.status).toBe(0);
  });

  it('starts the package binary with flags the server accepts, on the cache directory systemd makes', () => {
    const [binary, ...argv] = value('ExecStart')!.split(/\s+/);
    expect(basename(binary!)).toBe(Object.keys(packageJson.bin)[0]);
    // %C is the system's cache directory root for a system service.
    const config = checkSettings(
      {},
      argv.map((arg) => arg.replaceAll('%C', '/var/cache')),
    );
    expect(config).toMatchObject({ dir: '/var/cache/imgcache', host: '0.0.0.0', port: 9393, logLevel: 'info' });
    expect(value('ReadWritePaths')!.replaceAll('%C', '/var/cache')).toBe(config.dir);
  });

  it('ships an environment file whose variables the server reads, with values it accepts', () => {
    const lines = read('systemd/imgcache-server.env').split('\n');
    const set = Object.fromEntries(
      lines
        .filter((line) => /^IMGCACHE_\w+=/.test(line))
        .map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]),
    );
    const commented = lines.flatMap((line) => /^#(IMGCACHE_\w+)=/.exec(line)?.[1] ?? []);
    for (const name of commented) expect(SERVER_VARIABLES).toContain(name);
    expect(checkSettings(set)).toMatchObject({
      origin: 'http://glance.internal:9292',
      maxSize: 200 * 1024 ** 3,
      minFree: { percent: 10 },
    });
  });
});

describe('deploy/docker', () => {
  const stages = parseDockerfile(read('docker/Dockerfile'));
  const final = stages.at(-1)!;
  const args = (instruction: string) =>
    final.filter((entry) => entry.instruction === instruction).map((entry) => entry.args);

  it('builds in one stage and runs the deployed package as a non-root user in another', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages[0]![0]!.args).toMatch(/ AS build$/);
    expect(stages[0]!.map((entry) => entry.args).join('\n')).toContain(
      `--filter ${packageJson.name} deploy --prod /app`,
    );
    expect(args('COPY')).toContain('--from=build /app /opt/imgcache');
    const user = args('USER').at(-1);
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    expect(JSON.parse(args('ENTRYPOINT')[0]!)).toEqual([
      'node',
      ...unitNodeOptions(),
      `/opt/imgcache/${packageJson.bin['imgcache-server'].replace(/^\.\//, '')}`,
    ]);
  });

  it('sets only server variables, with values the server accepts', () => {
    const env = Object.fromEntries(
      [
        ...args('ENV')
          .join(' ')
          .matchAll(/(\w+)=(\S+)/g),
      ].map((match) => [match[1]!, match[2]!]),
    );
    const { NODE_ENV, ...settings } = env;
    expect(NODE_ENV).toBe('production');
    expect(checkSettings(settings)).toMatchObject({ host: '0.0.0.0', port: 9393, dir: '/var/cache/imgcache' });
    expect(args('EXPOSE')).toEqual([settings.IMGCACHE_PORT]);
    expect(args('VOLUME')).toEqual([JSON.stringify([settings.IMGCACHE_DIR])]);
  });

  describe('healthcheck', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness();
    });
    afterAll(() => h.stop());

    /** Runs the HEALTHCHECK command of the image with IMGCACHE_PORT set to `port`; resolves with its exit code. */
    async function healthcheck(port: string): Promise<number> {
      const command = JSON.parse(/^.*?CMD (\[.*\])$/.exec(args('HEALTHCHECK')[0]!)![1]!) as string[];
      expect(command[0]).toBe('node');
      // Asynchronously: the server answering it runs in this very process.
      return promisify(execFile)(process.execPath, command.slice(1), {
        env: { ...process.env, IMGCACHE_PORT: port },
        timeout: 20_000,
      }).then(
        () => 0,
        (error: { code?: number }) => error.code ?? -1,
      );
    }

    it('probes /healthz: healthy while the server answers, unhealthy when nothing listens', async () => {
      expect(args('HEALTHCHECK')[0]).toContain('/healthz');
      expect(await healthcheck(new URL(h.server.url).port)).toBe(0);
      const gone = await startHarness();
      const port = new URL(gone.server.url).port;
      await gone.stop();
      expect(await healthcheck(port)).toBe(1);
    });
  });
});

describe('deploy/compose and deploy/prometheus', () => {
  const compose = parseYaml(read('compose/compose.yaml'), { merge: true });
  const prometheus = parseYaml(read('prometheus/prometheus.yml'));

  it('runs an origin and two nodes built from the Dockerfile, with server variables the server accepts', () => {
    const services = compose.services as Record<
      string,
      { build?: { context: string; dockerfile: string }; environment?: Record<string, string>; volumes?: string[] }
    >;
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['origin', 'node-a', 'node-b']));
    for (const name of ['node-a', 'node-b']) {
      const node = services[name]!;
      expect(node.build).toEqual({ context: '../..', dockerfile: 'deploy/docker/Dockerfile' });
      const env = { ...node.environment!, IMGCACHE_ADMIN_TOKEN: 'a-token-from-the-shell' };
      const config = checkSettings(env);
      expect(new URL(config.origin.replace('{id}', 'x')).hostname).toBe('origin');
      expect(node.volumes).toEqual([expect.stringMatching(/:\/var\/cache\/imgcache$/)]);
    }
    // The files it mounts exist.
    for (const volume of services.prometheus!.volumes!) read(volume.split(':')[0]!.replace(/^\.\.\//, ''));
  });

  it('scrapes the compose nodes on the port of the image and loads the alert rules', () => {
    const job = prometheus.scrape_configs.find((config: { job_name: string }) => config.job_name === 'imgcache');
    expect(job.metrics_path).toBe('/metrics');
    const targets: string[] = job.static_configs.flatMap((config: { targets: string[] }) => config.targets);
    expect(targets).toEqual(['node-a:9393', 'node-b:9393']);
    expect(prometheus.rule_files).toEqual(['/etc/prometheus/alerts.yml']);
  });
});

describe('deploy/prometheus alerts and deploy/grafana dashboard', () => {
  const alerts = parseYaml(read('prometheus/alerts.yml'));
  const grafana = JSON.parse(read('grafana/imgcache-dashboard.json'));
  const rules = alerts.groups.flatMap((group: { rules: unknown[] }) => group.rules) as {
    alert: string;
    expr: string;
    labels: { severity: string };
    annotations: Record<string, string>;
  }[];
  const panels = grafana.panels as { title: string; datasource: { uid: string }; targets: { expr: string }[] }[];
  let h: Harness;
  let scraped: string;

  beforeAll(async () => {
    // Traffic first, so labelled series appear in the scrape: a miss, a hit, an image over
    // the budget; and from a second server whose disk floor admits nothing, a min_free refusal.
    h = await startHarness({ maxSize: 50_000 });
    const full = await startHarness({ minFree: { percent: 100 } }, h.origin);
    h.origin.add('seen', { data: randomImage(10_000) });
    h.origin.add('too-big', { data: randomImage(60_000) });
    for (const id of ['seen', 'seen', 'too-big']) await send(h.url(`/v2/images/${id}/file`));
    await send(full.url('/v2/images/seen/file'));
    scraped = (await send(h.url('/metrics'))).body.toString() + (await send(full.url('/metrics'))).body.toString();
    await full.stop();
  });
  afterAll(() => h.stop());

  it('covers the failures operators asked for, each with a severity and a summary', () => {
    expect(rules.map((rule) => rule.alert)).toEqual(
      expect.arrayContaining([
        'ImgcacheNodeDown',
        'ImgcacheCacheNearFull',
        'ImgcacheHitRatioCollapse',
        'ImgcacheOriginErrors',
        'ImgcacheFillsFailing',
      ]),
    );
    for (const rule of rules) {
      expect(['critical', 'warning', 'info']).toContain(rule.labels.severity);
      expect(rule.annotations.summary).toBeTruthy();
    }
    expect(panels.length).toBeGreaterThan(5);
    // Every panel reads the Prometheus data source the operator picks on import: Grafana's
    // ${NAME} reference to the dashboard's one declared input.
    expect(grafana.__inputs).toEqual([
      expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' }),
    ]);
    const input = grafana.__inputs[0] as { name: string };
    for (const panel of panels) {
      expect(panel.datasource.uid).toBe(`\${${input.name}}`);
      expect(panel.targets.length).toBeGreaterThan(0);
    }
  });

  it('names only metrics, labels and label values that the server exports', () => {
    const families = new Set([...scraped.matchAll(/^# TYPE (\S+) /gm)].map((match) => match[1]!));
    const seenValues = (metric: string, label: string) =>
      new Set(
        [...scraped.matchAll(new RegExp(`^${metric}\\{[^}]*\\b${label}="([^"]*)"`, 'gm'))].map((match) => match[1]!),
      );
    const expressions = [
      ...rules.map((rule) => [`alert ${rule.alert}`, rule.expr]),
      ...panels.flatMap((panel) => panel.targets.map((target) => [`panel ${panel.title}`, target.expr])),
      ...grafana.templating.list.map((variable: { name: string; query: { query: string } }) => [
        `variable ${variable.name}`,
        variable.query.query,
      ]),
    ] as [string, string][];
    let checked = 0;
    for (const [where, expr] of expressions) {
      const names = [...expr.matchAll(/\b((?:imgcache|process|nodejs)_[a-z0-9_]+)\b/g)].map((match) => match[1]!);
      expect(names.length + (expr.includes('up{') ? 1 : 0), `${where} names no metric`).toBeGreaterThan(0);
      for (const name of names) expect(families, `${where}: ${name}`).toContain(name);
      for (const [, metric, matchers] of expr.matchAll(/\b(imgcache_[a-z0-9_]+)\{([^}]*)\}/g)) {
        const labelNames = (h.server.metrics.registry.getSingleMetric(metric!) as unknown as { labelNames: string[] })
          .labelNames;
        for (const [, label, op, value] of matchers!.matchAll(/(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)) {
          // instance and job are added by Prometheus to every series it scrapes.
          if (label === 'instance' || label === 'job') continue;
          expect(labelNames, `${where}: ${metric} has no label ${label}`).toContain(label);
          const seen = seenValues(metric!, label!);
          if (seen.size === 0 || (op !== '=' && op !== '=~')) continue;
          for (const alternative of value!.split('|'))
            expect([...seen], `${where}: ${metric}{${label}="${alternative}"}`).toContain(alternative);
          checked++;
        }
      }
    }
    // The label values of the request and byte counters, and the reason of the uncached pass, were checked.
    expect(checked).toBeGreaterThan(5);
  });

  const promtool = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).stdout.trim();
  it.skipIf(!promtool)("passes promtool check rules (where Prometheus's promtool is installed)", () => {
    const result = spawnSync(promtool, ['check', 'rules', deploy('prometheus/alerts.yml')], { encoding: 'utf8' });
    expect(result.stdout + result.stderr).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });
});
