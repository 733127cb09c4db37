/** Failed logins allowed per client address within {@link WINDOW_MS}. */
export const MAX_FAILURES = 10;
/** The window failed logins are counted in: 5 minutes, in milliseconds. */
export const WINDOW_MS = 5 * 60_000;
/** Addresses tracked at once; the oldest is forgotten beyond this, so the map stays small. */
const MAX_ADDRESSES = 1024;

/**
 * Slows down guessing the admin token through the login form: an address with
 * {@link MAX_FAILURES} failed logins in the window is refused until its oldest failure
 * leaves the window. Other addresses, and the API with the token itself, are unaffected.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Milliseconds until `address` may try again; 0 when it may try now. */
  retryAfter(address: string): number {
    const recent = this.recent(address);
    return recent.length < MAX_FAILURES ? 0 : recent[0]! + WINDOW_MS - this.now();
  }

  /** Counts a failed login of `address`. */
  failed(address: string): void {
    const recent = this.recent(address);
    this.failures.delete(address);
    this.failures.set(address, [...recent, this.now()]);
    if (this.failures.size > MAX_ADDRESSES) this.failures.delete(this.failures.keys().next().value!);
  }

  /** A successful login clears the address's failures. */
  succeeded(address: string): void {
    this.failures.delete(address);
  }

  private recent(address: string): number[] {
    const since = this.now() - WINDOW_MS;
    return (this.failures.get(address) ?? []).filter((at) => at > since);
  }
}
