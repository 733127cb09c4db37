#!/usr/bin/env node
// Baselines for the server benchmark, each run in a child process of its own:
//   static <dir>       serves <dir>/<name> for /v2/images/<name>[-<anything>]/file (node:http +
//                      fs.createReadStream), so every distinct id is a new image with known bytes.
//                      GET /stats/<id> answers {"dataRequests": total, "requests": n}: the
//                      image GETs received in all and for <id>, so the bench counts origin fetches.
//   proxy <originUrl>  streams every request to the origin and back, caching nothing
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream';

const [mode, target] = process.argv.slice(2);
const IMAGE_PATH = /^\/v2\/images\/([A-Za-z0-9]+)((?:-[A-Za-z0-9._-]*)?)\/file$/;

let dataRequests = 0;
const byId = new Map();

const server = createServer(mode === 'static' ? serveStatic : proxy);
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () =>
  console.log(`LISTENING http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (server.address()).port}`),
);
process.on('SIGTERM', () => process.exit(0));

async function serveStatic(req, res) {
  if (req.url?.startsWith('/stats/')) {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ dataRequests, requests: byId.get(req.url.slice('/stats/'.length)) ?? 0 }));
  }
  const match = IMAGE_PATH.exec(req.url ?? '');
  if (!match) return res.writeHead(404).end();
  if (req.method === 'GET') {
    const id = match[1] + match[2];
    dataRequests++;
    byId.set(id, (byId.get(id) ?? 0) + 1);
  }
  const path = join(target, match[1]);
  try {
    const info = await stat(path);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': info.size });
    if (req.method === 'HEAD') return res.end();
    pipeline(createReadStream(path, { highWaterMark: 1024 * 1024 }), res, () => undefined);
  } catch {
    res.writeHead(404).end();
  }
}

function proxy(req, res) {
  const upstream = request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    pipeline(answer, res, () => undefined);
  });
  upstream.on('error', () => res.destroy());
  pipeline(req, upstream, () => undefined);
}
