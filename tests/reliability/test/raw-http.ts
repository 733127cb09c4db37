import { connect, type Socket } from 'node:net';

export interface RawResponse {
  /** Status of the first response, or null when the server closed without answering. */
  status: number | null;
  head: string;
  body: Buffer;
}

/** Host and port of an `http://host:port` URL. */
export function hostPort(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port) };
}

/**
 * Sends bytes exactly as given (no client-side normalisation or validation) on a fresh
 * connection and reads until the server closes it. Destroys the socket after `timeoutMs`.
 */
export function rawRequest(url: string, request: string | Buffer, timeoutMs = 10_000): Promise<RawResponse> {
  const { host, port } = hostPort(url);
  return new Promise((resolve) => {
    const socket = connect(port, host);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parseResponse(Buffer.concat(chunks)));
    });
    socket.write(request);
  });
}

/** One request line plus headers, `Connection: close`, no body. */
export function requestText(method: string, target: string, headers: [string, string][] = []): string {
  const lines = [
    `${method} ${target} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Connection: close',
    ...headers.map(([name, value]) => `${name}: ${value}`),
  ];
  return `${lines.join('\r\n')}\r\n\r\n`;
}

export function parseResponse(data: Buffer): RawResponse {
  const end = data.indexOf('\r\n\r\n');
  const head = (end >= 0 ? data.subarray(0, end) : data).toString('latin1');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(head);
  return { status: match ? Number(match[1]) : null, head, body: end >= 0 ? data.subarray(end + 4) : Buffer.alloc(0) };
}

/** Opens a connection and resolves once it is established. */
export function openSocket(url: string): Promise<Socket> {
  const { host, port } = hostPort(url);
  return new Promise((resolve, reject) => {
    const socket = connect(port, host, () => resolve(socket));
    socket.once('error', reject);
  });
}
