import { describe, expect, it } from 'vitest';
import { LoginThrottle, MAX_FAILURES, WINDOW_MS } from '../../src/dashboard/login-throttle.js';

describe('LoginThrottle', () => {
  it('refuses an address after too many failures in the window, until the oldest one leaves it', () => {
    let clock = 0;
    const throttle = new LoginThrottle(() => clock);
    for (let i = 0; i < MAX_FAILURES; i++) {
      expect(throttle.retryAfter('10.0.0.1')).toBe(0);
      throttle.failed('10.0.0.1');
      clock += 1000;
    }
    expect(throttle.retryAfter('10.0.0.1')).toBe(WINDOW_MS - MAX_FAILURES * 1000);
    expect(throttle.retryAfter('10.0.0.2')).toBe(0);
    clock = WINDOW_MS + 1;
    expect(throttle.retryAfter('10.0.0.1')).toBe(0);
  });

  it('forgets the failures of an address that logs in', () => {
    const throttle = new LoginThrottle(() => 0);
    for (let i = 0; i < MAX_FAILURES - 1; i++) throttle.failed('::1');
    throttle.succeeded('::1');
    throttle.failed('::1');
    expect(throttle.retryAfter('::1')).toBe(0);
  });
});
