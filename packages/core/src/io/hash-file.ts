import { createReadStream } from 'node:fs';
import { MultiHasher, type ChecksumAlgorithm } from '../checksum.js';

/** Streams a file through the given hash; returns its hex digest and byte count. */
export async function hashFile(path: string, algorithm: ChecksumAlgorithm): Promise<{ hex: string; size: number }> {
  const hasher = new MultiHasher([algorithm]);
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    hasher.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { hex: hasher.digest().get(algorithm)!, size };
}
