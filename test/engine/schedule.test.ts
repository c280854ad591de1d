import { describe, expect, it } from 'vitest';
import { learningRate, type LrScheduleOptions } from '../../src/engine/schedule.ts';

const base: LrScheduleOptions = { lr: 1, warmup_steps: 4, max_steps: 14, schedule: 'cosine', min_lr_ratio: 0.1 };

describe('learningRate', () => {
  it('warms up linearly: lr·(step+1)/warmup_steps', () => {
    for (const schedule of ['cosine', 'linear', 'constant'] as const) {
      expect([0, 1, 2, 3].map((s) => learningRate(s, { ...base, schedule }))).toEqual([0.25, 0.5, 0.75, 1]);
    }
    expect(learningRate(0, { ...base, lr: 3e-4, warmup_steps: 100 })).toBeCloseTo(3e-6, 15);
  });

  it('cosine decays to lr·min_lr_ratio at max_steps (nanoGPT get_lr)', () => {
    const lr = (s: number) => learningRate(s, base);
    expect(lr(4)).toBe(1); // r = 0
    expect(lr(6)).toBeCloseTo(0.1 + 0.9 * 0.5 * (1 + Math.cos(0.2 * Math.PI)), 12); // r = 2/10
    expect(lr(6)).toBeCloseTo(0.91405765, 7);
    expect(lr(9)).toBeCloseTo(0.55, 12); // r = 1/2: cos = 0, 0.1 + 0.5·0.9
    expect(lr(13)).toBeCloseTo(0.1 + 0.9 * 0.5 * (1 + Math.cos(0.9 * Math.PI)), 12);
    expect(lr(14)).toBeCloseTo(0.1, 12);
    expect(lr(1000)).toBeCloseTo(0.1, 12);
  });

  it('linear decays to min_lr; constant stays at lr', () => {
    const lin = (s: number) => learningRate(s, { ...base, schedule: 'linear' });
    expect(lin(4)).toBe(1);
    expect(lin(6)).toBeCloseTo(0.82, 12); // 0.1 + 0.8·0.9
    expect(lin(9)).toBeCloseTo(0.55, 12);
    expect(lin(14)).toBeCloseTo(0.1, 12);
    expect(lin(20)).toBeCloseTo(0.1, 12);
    const cst = (s: number) => learningRate(s, { ...base, schedule: 'constant' });
    expect([4, 9, 14, 1000].map(cst)).toEqual([1, 1, 1, 1]);
  });

  it('handles no warmup, min_lr_ratio 0 and max_steps <= warmup_steps', () => {
    expect(learningRate(0, { ...base, warmup_steps: 0 })).toBe(1);
    expect(learningRate(7, { ...base, warmup_steps: 0, min_lr_ratio: 0 })).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI / 2)), 12); // r = 7/14
    expect(learningRate(3, { ...base, max_steps: 2 })).toBe(1);
    expect(learningRate(4, { ...base, max_steps: 2 })).toBeCloseTo(0.1, 12);
  });

  it('fails loudly on an unknown schedule or a bad step', () => {
    expect(() => learningRate(5, { ...base, schedule: 'cosine_with_restarts' as never })).toThrow(/unknown schedule 'cosine_with_restarts'/);
    expect(() => learningRate(-1, base)).toThrow(/step \(-1\) must be an integer >= 0/);
  });
});
