import { describe, expect, it } from 'vitest';
import { Rng } from '../src/rng.ts';

describe('Rng', () => {
  it('is deterministic per (seed, stream) and streams are independent', () => {
    const a = new Rng(7, 'masking');
    const b = new Rng(7, 'masking');
    const c = new Rng(7, 'data');
    const xa = Array.from({ length: 5 }, () => a.nextU32());
    expect(Array.from({ length: 5 }, () => b.nextU32())).toEqual(xa);
    expect(Array.from({ length: 5 }, () => c.nextU32())).not.toEqual(xa);
  });

  it('restores its exact state', () => {
    const a = new Rng(1, 's');
    for (let i = 0; i < 10; i++) a.random();
    const saved = a.getState();
    const next = Array.from({ length: 4 }, () => a.random());
    const b = new Rng(999);
    b.setState(saved);
    expect(Array.from({ length: 4 }, () => b.random())).toEqual(next);
  });

  it('random() is uniform on [0,1): mean and a 10-bin chi-square', () => {
    const r = new Rng(3);
    const n = 20000;
    const bins = new Array(10).fill(0);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const x = r.random();
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
      sum += x;
      bins[Math.floor(x * 10)]++;
    }
    expect(sum / n).toBeCloseTo(0.5, 1);
    const chi2 = bins.reduce((s, o) => s + (o - n / 10) ** 2 / (n / 10), 0);
    expect(chi2).toBeLessThan(27.9); // 99.9% quantile, 9 degrees of freedom
  });

  it('permutation is a permutation', () => {
    const p = new Rng(5).permutation(50);
    expect([...p].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});
