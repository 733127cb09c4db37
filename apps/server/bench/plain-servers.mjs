#!/usr/bin/env node
// Baselines for the server benchmark, run in a child process of their own:
//   static <dir>       serves <dir>/<name> for /v2/images/<name>[-anything]/file (node:http + fs.createReadStream)
//   proxy <originUrl>  streams every request to the origin and back, caching nothing
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream';

const [mode, target] = process.argv.slice(2);

const server = mode === 'static' ? createServer(serveStatic) : createServer(proxy);
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(`LISTENING http://127.0.0.1:${server.address().port}`));
process.on('SIGTERM', () => process.exit(0));

async function serveStatic(req, res) {
  const match = /^\/v2\/images\/([A-Za-z0-9]+)(?:-[0-9]+)?\/file$/.exec(req.url ?? '');
  if (!match) return res.writeHead(404).end();
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
