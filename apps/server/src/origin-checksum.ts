import { parseChecksum, formatChecksum } from '@imgcache/core';

/** Fields of Glance image metadata that describe the image data. */
export interface GlanceImageMetadata {
  size?: number | null;
  checksum?: string | null;
  os_hash_algo?: string | null;
  os_hash_value?: string | null;
  status?: string;
}

/**
 * The checksum to verify a download against, as `algorithm:hex`: Glance's multihash
 * (`os_hash_algo`/`os_hash_value`, sha256 or sha512) when present, else its md5
 * `checksum`, else the response's `Content-MD5` (hex as Glance sends it, or base64 as
 * RFC 1864 has it). Values that do not parse are ignored rather than failing the download.
 */
export function chooseChecksum(metadata: GlanceImageMetadata | null, contentMd5: string | undefined): string | undefined {
  const algorithm = metadata?.os_hash_algo?.toLowerCase();
  if ((algorithm === 'sha256' || algorithm === 'sha512') && metadata?.os_hash_value) {
    const parsed = tryParse(`${algorithm}:${metadata.os_hash_value}`);
    if (parsed) return parsed;
  }
  if (metadata?.checksum) {
    const parsed = tryParse(`md5:${metadata.checksum}`);
    if (parsed) return parsed;
  }
  return contentMd5 ? md5FromHeader(contentMd5) : undefined;
}

/** `md5:hex` from a Content-MD5 header in hex or base64 form, or undefined. */
export function md5FromHeader(value: string): string | undefined {
  const trimmed = value.trim();
  if (/^[0-9a-f]{32}$/i.test(trimmed)) return `md5:${trimmed.toLowerCase()}`;
  if (/^[A-Za-z0-9+/]{22}==$/.test(trimmed)) return `md5:${Buffer.from(trimmed, 'base64').toString('hex')}`;
  return undefined;
}

/** The base64 Content-MD5 header value for a stored `md5:hex` checksum, else undefined. */
export function contentMd5Header(checksum: string): string | undefined {
  return checksum.startsWith('md5:') ? Buffer.from(checksum.slice(4), 'hex').toString('base64') : undefined;
}

function tryParse(value: string): string | undefined {
  try {
    return formatChecksum(parseChecksum(value));
  } catch {
    return undefined;
  }
}
