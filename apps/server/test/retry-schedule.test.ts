import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_POLICY, RetrySchedule } from '../src/retry-schedule.js';

describe('RetrySchedule', () => {
  it('doubles the wait after each failure up to the cap, and gives up at the last attempt', () => {
    let now = 0;
    const schedule = new RetrySchedule({ maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 300 }, () => now);
    expect(schedule.isDue('a')).toBe(true);
    const waits = [];
    for (let attempt = 1; attempt < 5; attempt++) {
      const outcome = schedule.failed('a');
      if (outcome.gaveUp) throw new Error('gave up too early');
      waits.push(outcome.retryAt - now);
      expect(schedule.isDue('a')).toBe(false);
      now = outcome.retryAt;
      expect(schedule.isDue('a')).toBe(true);
    }
    expect(waits).toEqual([100, 200, 300, 300]);
    expect(schedule.failed('a')).toEqual({ gaveUp: true, attempts: 5 });
    // Given up means forgotten: queued again, it starts afresh.
    expect(schedule.isDue('a')).toBe(true);
    expect(schedule.failed('a')).toMatchObject({ gaveUp: false, attempts: 1 });
  });

  it('forgets images that left the queue or were queued again', () => {
    let now = 0;
    const schedule = new RetrySchedule(DEFAULT_RETRY_POLICY, () => now);
    schedule.failed('kept');
    schedule.failed('dequeued');
    schedule.failed('requeued');
    schedule.retain(['kept', 'requeued']);
    schedule.forget('requeued');
    expect(schedule.isDue('kept')).toBe(false);
    expect(schedule.isDue('dequeued')).toBe(true);
    expect(schedule.isDue('requeued')).toBe(true);
    now += DEFAULT_RETRY_POLICY.baseDelayMs;
    expect(schedule.isDue('kept')).toBe(true);
    // The one that left the queue starts over at the first attempt.
    expect(schedule.failed('dequeued')).toMatchObject({ attempts: 1 });
  });
});
