/**
 * Reads a source up to its first byte. Resolves null when it ends without any (an empty
 * stdin, often the sign of a failed command upstream), else an iterable that yields the
 * whole source, that first chunk included. Errors of the source reach the caller.
 */
export async function nonEmpty(source: AsyncIterable<Uint8Array>): Promise<AsyncIterable<Uint8Array> | null> {
  const iterator = source[Symbol.asyncIterator]();
  for (;;) {
    const next = await iterator.next();
    if (next.done) return null;
    if (next.value.byteLength === 0) continue;
    const first = next.value;
    return (async function* () {
      yield first;
      for (;;) {
        const rest = await iterator.next();
        if (rest.done) return;
        yield rest.value;
      }
    })();
  }
}
