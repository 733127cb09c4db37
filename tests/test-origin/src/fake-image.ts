/** How a {@link FakeOrigin} serves one image. */
export interface FakeImage {
  data: Buffer;
  /** Serve Glance metadata (checksum, os_hash_*) at /v2/images/{id}. Default true. */
  metadata?: boolean;
  /**
   * Send Content-MD5 with a full (200) answer: hex, as Glance does (true, the default), or
   * base64 as RFC 1864 says and some stores do (`'base64'`), or none (false).
   */
  contentMd5?: boolean | 'base64';
  /** Advertise checksums (metadata and Content-MD5) of different bytes: a lying origin. */
  wrongChecksum?: boolean;
  /** Status of the data request instead of 200: a failing origin. */
  status?: number;
  /** Bytes per write and pause between writes (default: the origin's). */
  chunkSize?: number;
  chunkDelayMs?: number;
  /** Stop after this many bytes until `release` resolves. */
  gate?: { afterBytes: number; release: Promise<void>; reached?: () => void };
  /** Destroy the connection after this many bytes (after any gate). */
  failAfterBytes?: number;
  /** Only these X-Auth-Token values may read the image (403 otherwise). */
  allowedTokens?: string[];
  /**
   * Glance `status` in the metadata (default `active`). The data route answers as Glance
   * 25.1 does: `deactivated` 403 except for `FakeOrigin.adminTokens`; `queued`,
   * `saving`, `uploading`, `importing`, `killed` 204 (no data); `deleted`,
   * `pending_delete` 404 (the metadata still shows them, as to an admin of an origin that
   * lists deleted images).
   */
  imageStatus?: string;
  /** Send the data gzip-encoded with `Content-Encoding: gzip`, whatever Accept-Encoding asked for. */
  gzip?: boolean;
}

/** Glance 25.1's answer to a data request for an image that is not `active`, or null (serve it). */
export function glanceDataRefusal(image: FakeImage, isAdmin: boolean): { status: number; message: string } | null {
  const status = image.imageStatus ?? 'active';
  if (status === 'deleted' || status === 'pending_delete') return { status: 404, message: 'No image found' };
  if (status === 'deactivated' && !isAdmin)
    return { status: 403, message: 'image deactivated: only admins may download its data' };
  if (['queued', 'saving', 'uploading', 'importing', 'killed'].includes(status)) return { status: 204, message: '' };
  return null;
}

/** A {@link FakeImage.gate} and its handles: `release()` opens it; `arrived` resolves once a download stops at it. */
export interface OriginGate {
  spec: NonNullable<FakeImage['gate']>;
  release: () => void;
  arrived: Promise<void>;
}

/** A gate the fake origin stops an image's download at, after `afterBytes` bytes, until the test opens it. */
export function originGate(afterBytes: number): OriginGate {
  let release!: () => void;
  let reached!: () => void;
  const opened = new Promise<void>((resolve) => {
    release = resolve;
  });
  const arrived = new Promise<void>((resolve) => {
    reached = resolve;
  });
  return { spec: { afterBytes, release: opened, reached }, release, arrived };
}
