// The project's performance targets, in one place: each benchmark prints its figures against
// these, and bench/run.mjs prints them all with pass/fail marks (and in --json).
// `figure(figures)` picks the measured value from the figures run.mjs collects; `needs`
// names what must be present for it to be measured (nginx, a full run's 100k entries, or a
// PostgreSQL for the cluster section).

/** @typedef {{ id: string, label: string, op: '>=' | '<=' | '<' | '=', value: number, unit: string,
 *   needs?: 'nginx' | 'full' | 'postgres', figure: (figures: any) => number | null | undefined }} Target */

const hit = (size, rival) => (f) => f.server?.hits?.[size]?.ratios?.[rival];
const miss = (rival) => (f) => f.server?.misses?.rows?.find((row) => row.key === 'imgcache-sha256')?.ratios?.[rival];
const atScale = (field) => (f) =>
  f.drivers?.atScale?.find((row) => row.driver === 'sqlite' && row.entries === 100_000)?.[field];

/** @type {Target[]} */
export const targets = [
  {
    id: 'core.write',
    label: 'core write (sha256 + fsync) / pipeline + fsync',
    op: '>=',
    value: 0.9,
    unit: '×',
    figure: (f) => f.throughput?.write?.ratio,
  },
  {
    id: 'core.read',
    label: 'core openForRead / createReadStream',
    op: '>=',
    value: 0.95,
    unit: '×',
    figure: (f) => f.throughput?.read?.ratio,
  },
  {
    id: 'core.readSameBuffer',
    label: 'core openForRead / 1 MiB-buffer stream',
    op: '>=',
    value: 0.95,
    unit: '×',
    figure: (f) => f.throughput?.readSameBuffer?.ratio,
  },
  {
    id: 'sqlite.list100k',
    label: 'sqlite getCachedImages, 100k entries',
    op: '<',
    value: 500,
    unit: 'ms',
    needs: 'full',
    figure: atScale('listMs'),
  },
  {
    id: 'sqlite.prune50k',
    label: 'sqlite prune 50k of 100k entries',
    op: '<',
    value: 1000,
    unit: 'ms',
    needs: 'full',
    figure: atScale('pruneMs'),
  },
  {
    id: 'server.hit64m.nginx',
    label: 'hit 64 MiB: imgcache / nginx',
    op: '>=',
    value: 1.2,
    unit: '×',
    needs: 'nginx',
    figure: hit('64MiB', 'nginx'),
  },
  {
    id: 'server.hit64m.static',
    label: 'hit 64 MiB: imgcache / static Node',
    op: '>=',
    value: 1.0,
    unit: '×',
    figure: hit('64MiB', 'static'),
  },
  {
    id: 'server.hit1m.nginx',
    label: 'hit 1 MiB: imgcache / nginx',
    op: '>=',
    value: 1.0,
    unit: '×',
    needs: 'nginx',
    figure: hit('1MiB', 'nginx'),
  },
  {
    id: 'server.hit1m.static',
    label: 'hit 1 MiB: imgcache / static Node',
    op: '>=',
    value: 1.5,
    unit: '×',
    figure: hit('1MiB', 'static'),
  },
  {
    id: 'server.miss32m.proxy',
    label: 'miss 32 MiB (sha256): imgcache / plain proxy',
    op: '>=',
    value: 0.6,
    unit: '×',
    figure: miss('proxy'),
  },
  {
    id: 'server.miss32m.nginx',
    label: 'miss 32 MiB (sha256): imgcache / nginx miss',
    op: '>=',
    value: 1.0,
    unit: '×',
    needs: 'nginx',
    figure: miss('nginx'),
  },
  {
    id: 'server.herd.origin',
    label: '100 concurrent misses: origin data requests',
    op: '=',
    value: 1,
    unit: '',
    figure: (f) => f.server?.herd?.originRequests,
  },
  {
    id: 'server.herd.incomplete',
    label: '100 concurrent misses: incomplete or wrong bodies',
    op: '=',
    value: 0,
    unit: '',
    figure: (f) => f.server?.herd?.badBodies,
  },
  {
    id: 'server.herd.ttlb',
    label: '100 concurrent misses: slowest TTLB / one client alone',
    op: '<=',
    value: 1.2,
    unit: '×',
    figure: (f) => f.server?.herd?.ttlbRatio,
  },
  {
    id: 'server.rss.miss',
    label: 'peak RSS, 8 clients joining one fill',
    op: '<',
    value: 150,
    unit: 'MB',
    figure: (f) => f.server?.memory?.miss?.peakMB,
  },
  {
    id: 'server.rss.hit',
    label: 'peak RSS, 8 clients on a hit',
    op: '<',
    value: 150,
    unit: 'MB',
    figure: (f) => f.server?.memory?.hit?.peakMB,
  },
  {
    id: 'server.rss.miss.deployed',
    label: 'peak RSS, 8 clients joining one fill, as deploy/ starts it',
    op: '<',
    value: 150,
    unit: 'MB',
    figure: (f) => f.server?.memory?.deployed?.miss?.peakMB,
  },
  {
    id: 'server.rss.hit.deployed',
    label: 'peak RSS, 8 clients on a hit, as deploy/ starts it',
    op: '<',
    value: 150,
    unit: 'MB',
    figure: (f) => f.server?.memory?.deployed?.hit?.peakMB,
  },
  {
    id: 'cluster.herd.origin',
    label: 'cluster, 100 concurrent misses over 3 nodes: origin data requests',
    op: '=',
    value: 1,
    unit: '',
    needs: 'postgres',
    figure: (f) => f.cluster?.herd?.originRequests,
  },
  {
    id: 'cluster.herd.bad',
    label: 'cluster, 100 concurrent misses over 3 nodes: incomplete or wrong bodies',
    op: '=',
    value: 0,
    unit: '',
    needs: 'postgres',
    figure: (f) => f.cluster?.herd?.badBodies,
  },
];

const SYMBOL = { '>=': '≥', '<=': '≤', '<': '<', '=': '=' };

/** The target with this id. @throws {Error} for an unknown id (a typo in a bench). */
export function target(id) {
  const found = targets.find((entry) => entry.id === id);
  if (!found) throw new Error(`no target ${id} in bench/targets.mjs`);
  return found;
}

/** `≥ 1.2×`, `< 150 MB`. */
export function describe(entry) {
  return `${SYMBOL[entry.op]} ${entry.value}${entry.unit === '×' || entry.unit === '' ? entry.unit : ` ${entry.unit}`}`;
}

/** Whether `value` meets the target; null when nothing was measured. */
export function meets(entry, value) {
  if (value === null || value === undefined || Number.isNaN(value)) return null;
  switch (entry.op) {
    case '>=':
      return value >= entry.value;
    case '<=':
      return value <= entry.value;
    case '<':
      return value < entry.value;
    default:
      return value === entry.value;
  }
}

/** `✓` / `✗` / `–` for a value against the target with this id. */
export function mark(id, value) {
  const met = meets(target(id), value);
  return met === null ? '–' : met ? '✓' : '✗';
}

/** `1.23 ✓ (≥ 1.2×)`: a ratio cell with its target, for the benches' own tables. */
export function ratioCell(id, value) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  return `${value.toFixed(2)} ${mark(id, value)} (${describe(target(id))})`;
}

/**
 * Every target against the figures of one run: `{ id, label, goal, measured, unit, met, note }`,
 * `met` null (and `note` saying why) when the run did not measure it.
 */
export function evaluateTargets(figures) {
  return targets.map((entry) => {
    const measured = entry.figure(figures) ?? null;
    const met = meets(entry, measured);
    let note = null;
    if (met === null) {
      if (entry.needs === 'nginx' && figures.server && !figures.server.nginx) note = 'skipped (nginx not installed)';
      else if (entry.needs === 'full' && figures.quick) note = 'not measured (quick run)';
      else if (entry.needs === 'postgres' && figures.cluster?.skipped) note = `skipped (${figures.cluster.skipped})`;
      else if (entry.needs === 'postgres' && figures.cluster === null) note = 'skipped (--no-cluster)';
      else note = 'not measured';
    }
    return { id: entry.id, label: entry.label, goal: describe(entry), measured, unit: entry.unit, met, note };
  });
}
