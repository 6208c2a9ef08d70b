import { describe, expect, it } from 'vitest';
import { quantileMs } from './status';

describe('latency percentiles from histogram buckets', () => {
  it('interpolates within the bucket the rank falls in, as histogram_quantile does', () => {
    // 100 requests: 50 under 10 ms, 40 more under 50 ms, 10 more under 100 ms.
    const buckets: [number, number][] = [
      [0.01, 50],
      [0.05, 90],
      [0.1, 100],
      [Infinity, 100],
    ];
    expect(quantileMs(0.5, buckets)).toBeCloseTo(10);
    expect(quantileMs(0.7, buckets)).toBeCloseTo(30);
    expect(quantileMs(0.99, buckets)).toBeCloseTo(95);
  });

  it('answers the highest finite bound past the last bucket, and nothing without requests', () => {
    expect(
      quantileMs(0.99, [
        [0.01, 1],
        [0.1, 1],
        [Infinity, 10],
      ]),
    ).toBeCloseTo(100);
    expect(
      quantileMs(0.5, [
        [0.01, 0],
        [Infinity, 0],
      ]),
    ).toBeNull();
    expect(quantileMs(0.5, [])).toBeNull();
  });
});
