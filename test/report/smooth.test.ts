import { describe, expect, it } from 'vitest';
import { smooth } from '../../src/report/smooth.ts';

describe('smooth (the report\'s debiased EMA)', () => {
  it('keeps a constant series constant from the first point on (debiased), and weight 0 returns the values', () => {
    expect(smooth([2, 2, 2, 2], 0.9).map((v) => +v!.toFixed(12))).toEqual([2, 2, 2, 2]);
    const raw = [1, 5, 3];
    expect(smooth(raw, 0)).toBe(raw);
  });

  it('computes s_t = w·s_{t−1} + (1 − w)·x_t, shown as s_t / (1 − w^t); nulls stay null and do not count', () => {
    const w = 0.5;
    // s1 = 0.5·1 = 0.5 -> 0.5/0.5 = 1; s2 = 0.25 + 0.5·3 = 1.75 -> 1.75/0.75; s3 = 0.875 + 0.5·5 = 3.375 -> 3.375/0.875.
    const out = smooth([1, null, 3, 5], w);
    expect(out[0]).toBeCloseTo(1, 12);
    expect(out[1]).toBeNull();
    expect(out[2]).toBeCloseTo(1.75 / 0.75, 12);
    expect(out[3]).toBeCloseTo(3.375 / 0.875, 12);
  });
});
