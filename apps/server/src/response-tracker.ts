import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** What a response told its client, as far as it got. */
export interface ResponseFacts {
  /** Status sent, or 0 when the connection ended before any header. */
  status: number;
  /** The `X-Cache` header sent, if any. */
  xCache: string | undefined;
  /** Body bytes handed to the connection (none for HEAD, 204 and 304, whose bodies Node drops). */
  bytes: number;
}

/**
 * Watches one response from the outside, whoever writes it (the framework, or the routes
 * that write to the socket themselves): the status and `X-Cache` at the moment the head
 * is written, and the body bytes written after it. `onHead` runs once, just before the
 * head goes out, and may still change its headers.
 */
export class ResponseTracker implements ResponseFacts {
  status = 0;
  xCache: string | undefined;
  bytes = 0;
  private countsBody = true;

  constructor(response: ServerResponse, onHead: (headers: HeadEditor) => void) {
    const writeHead = response.writeHead;
    const write = response.write;
    const end = response.end;
    const tracker = this;
    response.writeHead = function (this: ServerResponse, status: number, ...rest: unknown[]) {
      const editor = new HeadEditor(this, rest);
      onHead(editor);
      tracker.status = status;
      tracker.xCache = editor.get('x-cache');
      tracker.countsBody = this.req.method !== 'HEAD' && status !== 204 && status !== 304;
      return writeHead.call(this, status, ...(editor.args as []));
    } as ServerResponse['writeHead'];
    response.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
      tracker.count(this, chunk, rest[0]);
      return write.call(this, chunk, ...(rest as [BufferEncoding]));
    } as ServerResponse['write'];
    response.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
      if (typeof chunk !== 'function') tracker.count(this, chunk, rest[0]);
      return end.call(this, chunk, ...(rest as [BufferEncoding]));
    } as ServerResponse['end'];
  }

  private count(response: ServerResponse, chunk: unknown, encoding: unknown): void {
    // A write after the end or on a broken connection never reaches the client.
    if (response.destroyed || response.writableEnded) return;
    // Written before an explicit head: Node writes the implicit head first, through writeHead.
    if (!response.headersSent && this.status === 0) this.status = response.statusCode;
    if (!this.countsBody) return;
    if (typeof chunk === 'string')
      this.bytes += Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
    else if (chunk instanceof Uint8Array) this.bytes += chunk.byteLength;
  }
}

/**
 * The headers of a `writeHead` call about to happen, wherever they were given: in the call
 * (an object or a flat `[name, value, …]` array) or set on the response before it.
 */
export class HeadEditor {
  /** The arguments after the status, as they will be passed on. */
  args: unknown[];

  constructor(
    private readonly response: ServerResponse,
    args: unknown[],
  ) {
    this.args = [...args];
  }

  /** The value of a header (lower-case name), as a string; undefined when absent. */
  get(name: string): string | undefined {
    const given = this.given();
    if (Array.isArray(given)) {
      for (let index = 0; index + 1 < given.length; index += 2)
        if (String(given[index]).toLowerCase() === name) return String(given[index + 1]);
    } else if (given) {
      for (const [key, value] of Object.entries(given))
        if (key.toLowerCase() === name && value !== undefined) return String(value);
    }
    const set = this.response.getHeader(name);
    return set === undefined ? undefined : String(set);
  }

  /** Sets a header (lower-case name), replacing any value given in the call or on the response. */
  set(name: string, value: string): void {
    const index = this.args.findIndex((arg) => typeof arg === 'object' && arg !== null);
    const given = this.given();
    if (Array.isArray(given)) {
      const kept: unknown[] = [];
      for (let at = 0; at + 1 < given.length; at += 2)
        if (String(given[at]).toLowerCase() !== name) kept.push(given[at], given[at + 1]);
      this.args[index] = [...kept, name, value];
    } else if (given) {
      const copy: OutgoingHttpHeaders = {};
      for (const [key, existing] of Object.entries(given)) if (key.toLowerCase() !== name) copy[key] = existing;
      copy[name] = value;
      this.args[index] = copy;
    } else {
      this.response.setHeader(name, value);
    }
  }

  private given(): OutgoingHttpHeaders | unknown[] | undefined {
    return this.args.find((arg): arg is OutgoingHttpHeaders | unknown[] => typeof arg === 'object' && arg !== null);
  }
}
