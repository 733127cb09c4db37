/** One chunk as the source delivered it, at its offset in the image. */
export interface WindowChunk {
  offset: number;
  data: Uint8Array;
}

/**
 * The chunks of a fill that are still in memory, oldest first: a contiguous range of the
 * image. Chunks are shared with readers as they are (no copy); dropping one only forgets it.
 */
export class ChunkWindow {
  private chunks: (WindowChunk | undefined)[] = [];
  private head = 0;
  /** Length of the newest chunk ever pushed (0 before the first). */
  lastLength = 0;

  push(offset: number, data: Uint8Array): void {
    this.chunks.push({ offset, data });
    this.lastLength = data.byteLength;
  }

  /** The chunk holding byte `position`, or undefined when it is not in memory. */
  at(position: number): WindowChunk | undefined {
    let low = this.head;
    let high = this.chunks.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const chunk = this.chunks[middle]!;
      if (position < chunk.offset) high = middle - 1;
      else if (position >= chunk.offset + chunk.data.byteLength) low = middle + 1;
      else return chunk;
    }
    return undefined;
  }

  /** Forgets every chunk that ends at or before `offset`. */
  dropBefore(offset: number): void {
    while (this.head < this.chunks.length) {
      const chunk = this.chunks[this.head]!;
      if (chunk.offset + chunk.data.byteLength > offset) break;
      // Release the bytes now, not at the next compaction.
      this.chunks[this.head++] = undefined;
    }
    // Compact now and then so the array does not grow with the image.
    if (this.head > 1024) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}
