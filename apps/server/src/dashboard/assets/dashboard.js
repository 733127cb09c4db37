// The dashboard page: polls /dashboard/api/status and draws it. Plain DOM, no framework, no
// build step. Data is only ever written with textContent, never parsed as HTML. Loaded as a
// module, so it runs in strict mode.

const POLL_MS = 5000;
const SVG = 'http://www.w3.org/2000/svg';
let csrf = null;
let timer = null;

const $ = (id) => document.getElementById(id);

function bytes(value) {
  if (value === null || value === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let index = 0;
  let scaled = value;
  while (Math.abs(scaled) >= 1024 && index < units.length - 1) {
    scaled /= 1024;
    index += 1;
  }
  return `${index === 0 ? scaled : scaled.toFixed(scaled < 10 ? 2 : 1)} ${units[index]}`;
}

function ago(ms) {
  if (!ms) return '–';
  const seconds = Math.round((Date.now() - ms) / 1000);
  if (Math.abs(seconds) < 90) return seconds >= 0 ? `${seconds} s ago` : `in ${-seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (Math.abs(minutes) < 90) return minutes >= 0 ? `${minutes} min ago` : `in ${-minutes} min`;
  return new Date(ms).toLocaleString();
}

function percent(ratio) {
  return ratio === null ? '–' : `${(ratio * 100).toFixed(1)} %`;
}

/** Sets a figure's text and keeps its raw value in data-value (what the browser test reads). */
function figure(name, value, text) {
  for (const element of document.querySelectorAll(`[data-figure="${name}"]`)) {
    element.dataset.value = value === null ? '' : String(value);
    element.textContent = text ?? String(value);
  }
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function fillRows(tbody, items, columns, empty) {
  tbody.replaceChildren();
  if (items.length === 0) {
    const row = tbody.insertRow();
    const td = cell(row, empty, 'empty');
    td.colSpan = tbody.closest('table').tHead.rows[0].cells.length;
    return;
  }
  for (const item of items) {
    const row = tbody.insertRow();
    row.dataset.imageId = item.imageId ?? '';
    for (const column of columns) {
      const value = column(item, row);
      if (value !== undefined) cell(row, value);
    }
  }
}

/** Hit ratio: hits (stale ones too: they came from the cache) over every answered download but errors. */
function hitRatio(counts) {
  const hits = counts.hit + counts.hitStale;
  const answered = hits + counts.miss + counts.coalesced + counts.coalescedStale + counts.bypass;
  return answered === 0 ? null : hits / answered;
}

function width(element, ratio) {
  element.style.width = `${Math.max(0, Math.min(1, ratio)) * 100}%`;
}

function drawUsage(usage) {
  figure('cache-bytes', usage.cacheBytes, bytes(usage.cacheBytes));
  figure('max-size', usage.maxSize, bytes(usage.maxSize));
  figure('images', usage.images);
  figure(
    'inflight-fills',
    usage.inFlightFills,
    `${usage.inFlightFills} ${usage.inFlightFills === 1 ? 'fill' : 'fills'}`,
  );
  figure('inflight-bytes', usage.inFlightBytes, bytes(usage.inFlightBytes));
  const used = usage.maxSize > 0 ? (usage.cacheBytes + usage.inFlightBytes) / usage.maxSize : 1;
  width($('budget-bar'), used);
  $('budget-bar').classList.toggle('warn', used > 0.95);
  const disk = usage.disk;
  figure(
    'disk-available',
    disk ? disk.availableBytes : null,
    disk ? bytes(disk.availableBytes) : `unknown (${usage.diskError})`,
  );
  figure('disk-total', disk ? disk.totalBytes : null, disk ? bytes(disk.totalBytes) : '–');
  figure('disk-floor', disk ? disk.floorBytes : null, disk ? bytes(disk.floorBytes) : '–');
  if (disk && disk.totalBytes > 0) {
    const usedShare = 1 - disk.availableBytes / disk.totalBytes;
    width($('disk-bar'), usedShare);
    $('disk-bar').classList.toggle('warn', disk.availableBytes <= disk.floorBytes);
    $('floor-mark').style.left = `${Math.max(0, 1 - disk.floorBytes / disk.totalBytes) * 100}%`;
    $('floor-mark').style.height = '100%';
  }
}

function svg(name, attributes, text) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/** Stacked bars of bytes per second (cache below origin) and the hit ratio line, newest right. */
function drawChart(traffic) {
  const chart = $('chart');
  const [width, height, top, bottom] = [600, 170, 14, 150];
  const slots = 60;
  const samples = traffic.samples.slice(-slots);
  const rate = (sample, key) => (sample.seconds > 0 ? sample[key] / sample.seconds : 0);
  const peak = Math.max(1, ...samples.map((sample) => rate(sample, 'cacheBytes') + rate(sample, 'originBytes')));
  const slot = width / slots;
  const y = (value) => bottom - (value / peak) * (bottom - top);
  const parts = [svg('line', { class: 'axis', x1: 0, x2: width, y1: bottom, y2: bottom })];
  const points = [];
  samples.forEach((sample, index) => {
    const x = width - (samples.length - index) * slot;
    const cache = rate(sample, 'cacheBytes');
    const origin = rate(sample, 'originBytes');
    parts.push(svg('rect', { class: 'cache', x: x + 1, width: slot - 2, y: y(cache), height: bottom - y(cache) }));
    parts.push(
      svg('rect', {
        class: 'origin',
        x: x + 1,
        width: slot - 2,
        y: y(cache + origin),
        height: y(cache) - y(cache + origin),
      }),
    );
    const ratio = hitRatio(sample);
    if (ratio !== null) points.push(`${x + slot / 2},${bottom - ratio * (bottom - top)}`);
  });
  if (points.length > 0) parts.push(svg('polyline', { class: 'ratio', points: points.join(' ') }));
  // A lone point draws no line: mark the newest one.
  if (points.length > 0) {
    const [cx, cy] = points[points.length - 1].split(',');
    parts.push(svg('circle', { class: 'ratio-dot', cx, cy, r: 3 }));
  }
  parts.push(svg('text', { x: 2, y: 10 }, `${bytes(peak)}/s`));
  parts.push(svg('text', { x: 2, y: height - 4 }, `−${Math.round((slots * traffic.intervalSeconds) / 60)} min`));
  parts.push(svg('text', { x: width - 24, y: height - 4 }, 'now'));
  chart.replaceChildren(...parts);
}

function drawTraffic(traffic) {
  const window = {
    hit: 0,
    hitStale: 0,
    miss: 0,
    coalesced: 0,
    coalescedStale: 0,
    bypass: 0,
    error: 0,
    cacheBytes: 0,
    originBytes: 0,
  };
  let seconds = 0;
  for (const sample of traffic.samples) {
    for (const key of Object.keys(window)) window[key] += sample[key];
    seconds += sample.seconds;
  }
  $('window').textContent = seconds < 90 ? `${Math.round(seconds)} s` : `${Math.round(seconds / 60)} min`;
  const ratio = hitRatio(window);
  figure('hit-ratio', ratio, percent(ratio));
  figure('window-cache-bytes', window.cacheBytes, bytes(window.cacheBytes));
  figure('window-origin-bytes', window.originBytes, bytes(window.originBytes));
  const totals = traffic.totals;
  for (const key of ['hit', 'hitStale', 'miss', 'coalesced', 'coalescedStale', 'bypass', 'error'])
    figure(`total-${key}`, totals[key]);
  figure('total-cache-bytes', totals.cacheBytes, bytes(totals.cacheBytes));
  figure('total-origin-bytes', totals.originBytes, bytes(totals.originBytes));
  drawChart(traffic);
}

function actionButton(row, label, handler) {
  const td = row.insertCell();
  if (!csrf) return undefined;
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'danger';
  button.textContent = label;
  button.addEventListener('click', handler);
  td.append(button);
  return undefined;
}

function drawImages(status) {
  const columns = [
    (image) => image.imageId,
    (image) => bytes(image.size),
    (image) => String(image.hits),
    (image) => ago(image.lastAccessed),
    (image, row) =>
      actionButton(row, 'Delete', () =>
        confirmAction(`Delete image ${image.imageId} from the cache?`, 'delete', { imageId: image.imageId }),
      ),
  ];
  fillRows($('largest-rows'), status.largest, columns, 'no cached images');
  fillRows($('hottest-rows'), status.hottest, columns, 'no cached images');
  fillRows(
    $('fills-rows'),
    status.fills,
    [
      (fill) => fill.imageId,
      (fill, row) => {
        const progress = document.createElement('progress');
        if (fill.size) {
          progress.max = fill.size;
          progress.value = fill.receivedBytes;
        }
        row.insertCell().append(progress);
        return undefined;
      },
      (fill) => (fill.size ? `${bytes(fill.receivedBytes)} of ${bytes(fill.size)}` : bytes(fill.receivedBytes)),
    ],
    'no fill in progress',
  );
}

function drawQueue(queue) {
  const retrying = new Map(queue.retrying.map((entry) => [entry.imageId, entry]));
  fillRows(
    $('queue-rows'),
    queue.queued.map((imageId) => ({ imageId, retry: retrying.get(imageId) })),
    [
      (entry) => entry.imageId,
      (entry) => String(entry.retry ? entry.retry.attempts : 0),
      (entry) => (entry.retry ? ago(entry.retry.retryAt) : 'next run'),
      (entry) => (entry.retry ? entry.retry.lastError : ''),
      (entry, row) =>
        actionButton(row, 'Remove', () =>
          confirmAction(`Remove ${entry.imageId} from the queue (and the cache)?`, 'delete', {
            imageId: entry.imageId,
          }),
        ),
    ],
    'the queue is empty',
  );
  fillRows(
    $('abandoned-rows'),
    queue.abandoned,
    [(entry) => entry.imageId, (entry) => String(entry.attempts), (entry) => ago(entry.at), (entry) => entry.lastError],
    'none',
  );
}

function drawMaintenance(maintenance) {
  $('interval').textContent =
    maintenance.intervalSeconds > 0 ? `(every ${maintenance.intervalSeconds} s)` : '(timer off)';
  fillRows(
    $('maintenance-rows'),
    maintenance.last,
    [
      (result) => result.step,
      (result) => ago(result.finishedAt),
      (result) => result.trigger,
      (result) =>
        result.ok
          ? Object.entries(result.detail)
              .map(([key, value]) => `${key}: ${key === 'bytes' ? bytes(value) : value}`)
              .join(', ') || 'done'
          : `failed: ${result.error}`,
    ],
    'not run yet',
  );
}

function drawCluster(cluster, self) {
  $('cluster').hidden = cluster === null;
  if (cluster === null) return;
  if (cluster.error) {
    $('cluster-database').textContent = `(cannot be read: ${cluster.error})`;
    fillRows($('cluster-rows'), [], [], 'unknown');
    return;
  }
  $('cluster-database').textContent = cluster.database.connected
    ? '(database reachable)'
    : '(database unreachable: last known membership)';
  fillRows(
    $('cluster-rows'),
    cluster.nodes,
    [
      (node) => (node.node_id === self ? `${node.node_id} (this node)` : node.node_id),
      (node) => node.url,
      (node) => (node.on_ring ? node.state : `${node.state}, off the ring`),
      (node) => String(node.weight),
      (node) => `${node.heartbeat_age_s.toFixed(1)} s ago`,
      (node) => String(node.cached_images),
      (node) => bytes(node.cached_bytes),
    ],
    'no nodes',
  );
}

function draw(status) {
  csrf = status.csrf;
  $('node').textContent = `— ${status.node.hostname} (${status.node.driver})`;
  $('readonly').hidden = status.actions;
  $('logout').hidden = !status.actions;
  $('queue-form').hidden = !status.actions;
  $('maintenance-actions').hidden = !status.actions;
  drawUsage(status.usage);
  drawTraffic(status.traffic);
  drawImages(status);
  drawQueue(status.queue);
  drawMaintenance(status.maintenance);
  drawCluster(status.cluster, status.cluster && !status.cluster.error ? status.cluster.node_id : null);
  $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
  document.body.dataset.loaded = 'true';
}

async function refresh() {
  clearTimeout(timer);
  try {
    const response = await fetch('/dashboard/api/status', { credentials: 'same-origin', cache: 'no-store' });
    if (response.status === 401) return location.reload();
    if (!response.ok) throw new Error(`status ${response.status}`);
    draw(await response.json());
  } catch (error) {
    $('updated').textContent = `update failed: ${error.message}`;
  } finally {
    timer = setTimeout(refresh, POLL_MS);
  }
}

function notice(text, isError) {
  $('notice').textContent = text;
  $('notice').className = isError ? 'error' : '';
}

async function act(action, body) {
  const response = await fetch(`/dashboard/api/${action}`, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'x-csrf-token': csrf, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const answer = response.status === 204 ? {} : await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.error ? answer.error.message : `HTTP ${response.status}`);
  return answer;
}

/** Asks in a modal dialog; runs the action only on Confirm. */
function confirmAction(question, action, body) {
  const dialog = $('confirm');
  $('confirm-text').textContent = question;
  dialog.returnValue = '';
  dialog.addEventListener(
    'close',
    async () => {
      if (dialog.returnValue !== 'ok') return notice('Cancelled.', false);
      try {
        const answer = await act(action, body);
        const result = answer.result;
        notice(answer.message ?? `${action}: ${result?.ok ? JSON.stringify(result.detail) : 'done'}`, false);
      } catch (error) {
        notice(`${action} failed: ${error.message}`, true);
      }
      await refresh();
    },
    { once: true },
  );
  dialog.showModal();
}

document.addEventListener('DOMContentLoaded', () => {
  $('queue-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const imageId = $('queue-id').value.trim();
    confirmAction(`Queue image ${imageId} for prefetching?`, 'queue', { imageId });
  });
  $('prune').addEventListener('click', () => confirmAction('Prune the cache down to its budget now?', 'prune'));
  $('clean').addEventListener('click', () => confirmAction('Remove stalled and invalid work files now?', 'clean'));
  $('logout').addEventListener('click', async () => {
    await act('logout').catch(() => undefined);
    location.reload();
  });
  refresh();
});
