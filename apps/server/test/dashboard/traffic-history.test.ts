import { describe, expect, it } from 'vitest';
import { TrafficHistory, type TrafficTotals } from '../../src/dashboard/traffic-history.js';

const zero: TrafficTotals = {
  hit: 0,
  hitStale: 0,
  miss: 0,
  coalesced: 0,
  coalescedStale: 0,
  bypass: 0,
  error: 0,
  cacheBytes: 0,
  originBytes: 0,
};

describe('TrafficHistory', () => {
  it('closes one sample per record with the counts of its interval, keeps the newest ones, and shows the interval in progress', async () => {
    let clock = 1_000_000;
    let totals = { ...zero };
    const history = new TrafficHistory(
      async () => ({ ...totals }),
      { ...zero },
      3,
      () => clock,
    );
    for (let step = 1; step <= 5; step++) {
      totals = { ...totals, hit: totals.hit + step, cacheBytes: totals.cacheBytes + step * 100 };
      clock += 10_000;
      await history.record();
    }
    totals = { ...totals, miss: 1, originBytes: 7 };
    clock += 4_000;
    const { samples, totals: now } = await history.snapshot();
    expect(now).toEqual(totals);
    expect(samples.map((sample) => [sample.start, sample.seconds, sample.hit, sample.cacheBytes, sample.miss])).toEqual(
      [
        [1_020_000, 10, 3, 300, 0],
        [1_030_000, 10, 4, 400, 0],
        [1_040_000, 10, 5, 500, 0],
        [1_050_000, 4, 0, 0, 1],
      ],
    );
  });

  it('never draws a negative count when the counters go back', async () => {
    let totals = { ...zero, hit: 10 };
    const history = new TrafficHistory(
      async () => totals,
      totals,
      5,
      () => 0,
    );
    totals = { ...zero, hit: 2 };
    await history.record();
    expect((await history.snapshot()).samples[0]!.hit).toBe(0);
  });
});
