import { STATUS_CODES } from 'node:http';
import { Agent, interceptors, request, type Dispatcher } from 'undici';

/**
 * The HTTP client of the CLI's requests to an origin (`prefetch`) and to a server (`--url`).
 * undici's `request`, not the global `fetch`: fetch refuses the WHATWG "bad ports" (6000,
 * 6665–6669, 10080…, https://fetch.spec.whatwg.org/#port-blocking), which are ordinary
 * ports for an origin or a cache server. Redirects are followed as fetch follows them
 * (at most 20, the Fetch standard's limit).
 */
const dispatcher: Dispatcher = new Agent().compose(interceptors.redirect({ maxRedirections: 20 }));

/** One answer: status, headers (as a `Headers` object), and the body as a stream. */
export interface HttpAnswer {
  status: number;
  /** The reason phrase of the status (`Not Found`), from Node's table. */
  statusText: string;
  headers: Headers;
  body: Dispatcher.ResponseData['body'];
}

/**
 * Sends one request.
 * @throws the network error (with its `code`: `ECONNREFUSED`…) or the signal's reason.
 */
export async function httpRequest(
  url: URL | string,
  options: { method?: 'GET' | 'DELETE' | 'POST' | 'PUT'; headers: Record<string, string>; signal: AbortSignal },
): Promise<HttpAnswer> {
  const answer = await request(url, {
    method: options.method ?? 'GET',
    headers: options.headers,
    signal: options.signal,
    dispatcher,
  });
  const headers = new Headers();
  for (const [name, value] of Object.entries(answer.headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  return { status: answer.statusCode, statusText: STATUS_CODES[answer.statusCode] ?? '', headers, body: answer.body };
}
