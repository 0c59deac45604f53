import { describe, expect, it } from 'vitest';
import { LatencyEstimate } from './latency-estimate.js';

describe('LatencyEstimate', () => {
  it('starts empty, takes the first sample as is, then moves by an eighth of each difference', () => {
    const estimate = new LatencyEstimate();
    expect(estimate.ms).toBeUndefined();
    estimate.sample(80);
    expect(estimate.ms).toBe(80);
    estimate.sample(160);
    expect(estimate.ms).toBe(90);
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) estimate.sample(bad);
    expect(estimate.ms).toBe(90);
  });
});
