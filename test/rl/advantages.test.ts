import { describe, expect, it } from 'vitest';
import { computeAdvantages } from '../../src/rl/advantages.ts';

describe('computeAdvantages', () => {
  it('d1: reward minus group mean, no std division', () => {
    const { advantages, fracZeroStd } = computeAdvantages([1, 2, 3, 5, 5, 5], 3, 'none');
    expect(advantages).toEqual([-1, 0, 1, 0, 0, 0]);
    expect(fracZeroStd).toBe(0.5);
  });

  it('group scaling divides by the unbiased group std + 1e-4', () => {
    // group [1, 3]: mean 2, unbiased std sqrt(((1)^2 + (1)^2) / 1) = sqrt(2)
    const { advantages, meanGroupStd } = computeAdvantages([1, 3, 0, 0], 2, 'group');
    expect(advantages[0]).toBeCloseTo(-1 / (Math.SQRT2 + 1e-4), 10);
    expect(advantages[1]).toBeCloseTo(1 / (Math.SQRT2 + 1e-4), 10);
    expect(advantages.slice(2)).toEqual([0, 0]);
    expect(meanGroupStd).toBeCloseTo(Math.SQRT2 / 2, 10);
  });

  it('batch scaling divides by the std of the whole batch', () => {
    // rewards [0, 2, 4, 6]: batch mean 3, unbiased var (9+1+1+9)/3 = 20/3
    const { advantages } = computeAdvantages([0, 2, 4, 6], 2, 'batch');
    const s = Math.sqrt(20 / 3) + 1e-4;
    expect(advantages.map((a) => a * s)).toEqual([-1, 1, -1, 1].map((x) => expect.closeTo(x, 10)));
  });

  it('rejects a batch that is not whole groups', () => {
    expect(() => computeAdvantages([1, 2, 3], 2, 'none')).toThrow(/whole number of groups of 2/);
    expect(() => computeAdvantages([1, 2], 1, 'none')).toThrow(/num_generations \(1\) must be an integer >= 2/);
  });
});
