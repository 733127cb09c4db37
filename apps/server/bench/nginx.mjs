// Starts nginx as a caching reverse proxy (proxy_cache) in front of an origin, for the
// server benchmark's comparison column. Everything lives under a scratch directory.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { track, stopProcess } from './children.mjs';
import { childPids } from './proc-stats.mjs';

const OFFLOAD_CONF = fileURLToPath(new URL('../../../deploy/nginx/imgcache.conf', import.meta.url));

/** `nginx/1.22.1`, or null when nginx is not on PATH. */
export function nginxVersion() {
  const probe = spawnSync('nginx', ['-v'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return null;
  return /nginx\/\S+/.exec(probe.stderr)?.[0] ?? 'nginx';
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (probe.address());
      probe.close(() => resolve(port));
    });
  });
}

async function waitForPort(port, deadline) {
  while (Date.now() < deadline) {
    const open = await new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nginx did not listen on ${port}`);
}

/** The nginx directives every bench instance shares, around one `server { … }` block or include. */
function nginxConf(prefix, body) {
  const root = process.getuid?.() === 0 ? 'user root;' : '';
  return `${root}
worker_processes 1;
error_log ${prefix}/error.log warn;
pid ${prefix}/nginx.pid;
events { worker_connections 1024; }
http {
  # imgcache-server writes one request line per request (info); nginx logs each request too.
  access_log ${prefix}/access.log;
  client_body_temp_path ${prefix}/temp/body;
  proxy_temp_path ${prefix}/temp/proxy;
  fastcgi_temp_path ${prefix}/temp/fastcgi;
  uwsgi_temp_path ${prefix}/temp/uwsgi;
  scgi_temp_path ${prefix}/temp/scgi;
  sendfile on;
${body}
}
`;
}

/**
 * One nginx worker (the Node servers are one process too), caching 200s for an hour, with
 * sendfile on. Responses carry `X-Cache-Status` (HIT, MISS…) so the bench can check which
 * path it measured. Resolves with the URL and the worker's pid (whose CPU time is counted).
 */
export async function startNginx(originUrl, work) {
  const prefix = join(work, 'nginx');
  const port = await freePort();
  return runNginx(
    prefix,
    port,
    `  proxy_cache_path ${prefix}/cache levels=1:2 keys_zone=images:10m max_size=64g inactive=1h use_temp_path=off;
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass ${originUrl};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache images;
      proxy_cache_valid 200 1h;
      proxy_cache_lock on;
      add_header X-Cache-Status $upstream_cache_status;
    }
  }`,
  );
}

/**
 * nginx in front of an imgcache-server started with `--accel-redirect /_imgcache/`, configured
 * by the shipped deploy/nginx/imgcache.conf (one worker): nginx sends hits with sendfile.
 * @param {string} imgcacheUrl the imgcache-server behind it; `cacheDir` its `--dir`
 */
export async function startNginxOffload(imgcacheUrl, cacheDir, work) {
  const prefix = join(work, 'nginx-offload');
  const port = await freePort();
  const site = readFileSync(OFFLOAD_CONF, 'utf8')
    .replaceAll('@LISTEN@', `127.0.0.1:${port}`)
    .replaceAll('@UPSTREAM@', new URL(imgcacheUrl).host)
    .replaceAll('@CACHE_DIR@', cacheDir);
  return runNginx(prefix, port, site);
}

/** Writes the configuration, starts nginx in the foreground and waits for its port and worker. */
async function runNginx(prefix, port, body) {
  await mkdir(join(prefix, 'cache'), { recursive: true });
  await mkdir(join(prefix, 'temp'), { recursive: true });
  await writeFile(join(prefix, 'nginx.conf'), nginxConf(prefix, body));
  const child = spawn('nginx', ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-g', 'daemon off;'], {
    stdio: 'ignore',
  });
  let workers = [];
  let children = [];
  // Stopping the master stops its workers; a SIGKILLed master leaves them, so they go too
  // (checked by name, in case a pid was reused).
  const killWorkers = () => {
    for (const pid of children) {
      try {
        if (readFileSync(`/proc/${pid}/stat`, 'utf8').includes('(nginx)')) process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  };
  const entry = track({
    pid: child.pid,
    stop: async () => {
      await stopProcess(child);
      if (child.signalCode === 'SIGKILL') killWorkers();
    },
    killNow: () => {
      child.kill('SIGKILL');
      killWorkers();
    },
  });
  try {
    const deadline = Date.now() + 10_000;
    await waitForPort(port, deadline);
    for (
      workers = workerPids(child.pid);
      workers.length === 0 && Date.now() < deadline;
      workers = workerPids(child.pid)
    ) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // The cache manager and loader too (the loader exits by itself after a minute).
    children = childPids(child.pid);
  } catch (error) {
    await entry.stop();
    throw error;
  }
  return { ...entry, url: `http://127.0.0.1:${port}`, workers };
}

/** The worker processes under an nginx master: the ones that serve, whose CPU time counts. */
function workerPids(masterPid) {
  return childPids(masterPid).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('worker process');
    } catch {
      return false;
    }
  });
}
