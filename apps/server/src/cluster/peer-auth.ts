import { createHmac, timingSafeEqual } from 'node:crypto';

/** The request header that marks a request as one node's fetch from another. */
export const PEER_HEADER = 'x-imgcache-peer';

/** Set on the 401 that refuses a peer's signature, so the peer falls back to the origin rather than relay the 401 to its client. */
export const PEER_REFUSED_HEADER = 'x-imgcache-peer-refused';

/** How far a signature's clock may be from the receiver's, in seconds (peer clocks drift; replays age out). */
export const PEER_SIGNATURE_WINDOW_S = 300;

/**
 * Signs a peer request: `<nodeId>.<unix seconds>.<HMAC-SHA256 of node, time, method and
 * path, base64url>`. The secret itself never travels; a signature is good for one path,
 * for {@link PEER_SIGNATURE_WINDOW_S} seconds.
 */
export function signPeerRequest(
  secret: string,
  nodeId: string,
  method: string,
  path: string,
  nowMs = Date.now(),
): string {
  const seconds = Math.floor(nowMs / 1000);
  return `${nodeId}.${seconds}.${mac(secret, nodeId, seconds, method, path)}`;
}

/**
 * Checks a peer signature for this method and path.
 * @returns the signing node's id, or null when the header is malformed, stale or forged.
 */
export function verifyPeerRequest(
  secret: string,
  header: string,
  method: string,
  path: string,
  nowMs = Date.now(),
): string | null {
  const match = /^([A-Za-z0-9._-]{1,64})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(header);
  if (!match) return null;
  const [, nodeId, secondsText, given] = match as unknown as [string, string, string, string];
  const seconds = Number(secondsText);
  if (Math.abs(nowMs / 1000 - seconds) > PEER_SIGNATURE_WINDOW_S) return null;
  const expected = Buffer.from(mac(secret, nodeId, seconds, method, path));
  const actual = Buffer.from(given);
  return expected.length === actual.length && timingSafeEqual(expected, actual) ? nodeId : null;
}

function mac(secret: string, nodeId: string, seconds: number, method: string, path: string): string {
  return createHmac('sha256', secret)
    .update(`${nodeId}\n${seconds}\n${method.toUpperCase()}\n${path}`)
    .digest('base64url');
}
