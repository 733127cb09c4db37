import { Readable } from 'node:stream';
import { discard, headerValue, type OriginHeaders, type OriginResponse } from '../origin.js';

/** Where the rest of a broken body can be fetched: a GET with these headers plus Range. */
export interface ResumeSource {
  download(range: string, signal: AbortSignal): Promise<OriginResponse>;
}

/**
 * The owner's body, continued from another source when the owner breaks off (it was
 * killed or lost its connection mid-transfer): the bytes already received are kept and the
 * rest is asked for with `Range: bytes=<received>-`. Only a `206` whose `Content-Range`
 * starts exactly there and has the announced total is used. The caller must check the
 * whole body against a checksum (the fill does), which is why resuming is offered only
 * when one is known: spliced bytes of two versions of an image never pass.
 * @param onResume called with the offset when the body is continued elsewhere.
 */
export function resumingBody(
  first: AsyncIterable<Uint8Array>,
  size: number,
  source: ResumeSource,
  signal: AbortSignal,
  onResume: (offset: number) => void,
): Readable {
  async function* bytes(): AsyncGenerator<Uint8Array> {
    let received = 0;
    try {
      for await (const chunk of first) {
        received += chunk.byteLength;
        yield chunk;
      }
      return;
    } catch (error) {
      if (received >= size || signal.aborted) throw error;
      const rest = await source.download(`bytes=${received}-`, signal).catch(() => null);
      if (!rest) throw error;
      if (
        rest.statusCode !== 206 ||
        headerValue(rest.headers, 'content-range')?.trim() !== `bytes ${received}-${size - 1}/${size}`
      ) {
        discard(rest.body);
        throw error;
      }
      onResume(received);
      yield* rest.body;
    }
  }
  return Readable.from(bytes(), { objectMode: false });
}

/** Headers of a ranged continuation: the client's, without what would make it conditional or whole. */
export function withRange(headers: OriginHeaders, range: string): OriginHeaders {
  return { ...headers, range };
}
