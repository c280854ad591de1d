import { describe, expect, it } from 'vitest';
import { computeAdvantages, groupTokenAdvantages, positionAdvantages, processAdvantages } from '../../src/rl/advantages.ts';
import { Rng } from '../../src/rng.ts';
import { grpoSchema } from '../../src/config/schema.ts';
import { groupAdvantages } from '../../src/rl/completions.ts';

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

describe('processAdvantages (credit: process)', () => {
  it('reward-to-go from each token\'s sampler step minus the group mean at that step, by hand', () => {
    // G = 2, 3 tokens. Row 0: reward 1.0, tokens 0 and 1 earned 0.5 each, committed at steps 1, 2, 3.
    // Row 1: reward 0.5, token 0 earned 0.5; its tokens were committed at steps 2, 1, 3.
    // Returns R_s: row 0 = {1: 1.0, 2: 0.5, 3: 0}; row 1 = {1: 0.5, 2: 0.5, 3: 0}; means {1: 0.75, 2: 0.5, 3: 0}.
    const A = processAdvantages([1.0, 0.5], [[0.5, 0.5, 0], [0.5, 0, 0]], [[1, 2, 3], [2, 1, 3]], 2, 'none');
    expect(A[0]).toEqual([0.25, 0, 0]);
    expect(A[1]).toEqual([0, -0.25, 0]);
  });

  it('outcome reward not credited to any token counts at every step', () => {
    // Row 0: reward 1 of which 0.25 credited to token 1 (step 2) -> outcome 0.75. Row 1: reward 0, no credit.
    const A = processAdvantages([1, 0], [[0, 0.25], [0, 0]], [[1, 2], [1, 2]], 2, 'none');
    // R row 0: step 1 = 1, step 2 = 1; row 1: 0, 0; means 0.5, 0.5.
    expect(A).toEqual([[0.5, 0.5], [-0.5, -0.5]]);
  });

  it('without credit it is plain GRPO: every token gets its completion\'s advantage, for every scaling', () => {
    const rng = new Rng(7, 'adv');
    for (const scale of ['none', 'group', 'batch'] as const) {
      const rewards = Array.from({ length: 12 }, () => Math.floor(rng.random() * 5) / 4);
      const steps = rewards.map(() => Array.from({ length: 5 }, () => 1 + Math.floor(rng.random() * 4)));
      const A = processAdvantages(rewards, rewards.map(() => new Array(5).fill(0)), steps, 4, scale);
      const outcome = computeAdvantages(rewards, 4, scale).advantages;
      A.forEach((row, i) => row.forEach((a) => expect(a).toBeCloseTo(outcome[i], 12)));
    }
  });

  it('tokens committed at the first step get the plain GRPO advantage (the whole reward is still ahead of them)', () => {
    const rng = new Rng(3, 'adv');
    const G = 4;
    const rewards: number[] = [];
    const credit: number[][] = [];
    const steps: number[][] = [];
    for (let i = 0; i < 8; i++) {
      const c: number[] = Array.from({ length: 6 }, () => (rng.random() < 0.5 ? 0.125 : 0));
      credit.push(c);
      rewards.push(c.reduce((a, b) => a + b, 0) + (rng.random() < 0.5 ? 0.25 : 0)); // + an outcome part
      steps.push(Array.from({ length: 6 }, (_, l) => (l === 0 ? 1 : 1 + Math.floor(rng.random() * 3))));
    }
    const A = processAdvantages(rewards, credit, steps, G, 'none');
    const outcome = computeAdvantages(rewards, G, 'none').advantages;
    A.forEach((row, i) => expect(row[0]).toBeCloseTo(outcome[i], 12));
  });
});

describe('positionAdvantages (credit: token)', () => {
  it('gives each token its credit minus the group mean at its position, plus the uncredited rest (hand-computed)', () => {
    // Group of 2, 3 positions. r0 = 1.0 with credit [0.5, 0.25, 0] (rest 0.25); r1 = 0.5 with credit [0, 0.5, 0] (rest 0).
    // Position means: [0.25, 0.375, 0]; rest mean 0.125.
    const A = positionAdvantages([1.0, 0.5], [[0.5, 0.25, 0], [0, 0.5, 0]], 2, 'none');
    const want = [
      [0.5 - 0.25 + 0.125, 0.25 - 0.375 + 0.125, 0 + 0.125],
      [0 - 0.25 - 0.125, 0.5 - 0.375 - 0.125, 0 - 0.125],
    ];
    A.forEach((row, i) => row.forEach((a, l) => expect(a).toBeCloseTo(want[i][l], 12)));
  });

  it('is the outcome advantage at every token when nothing is credited, and sums to zero over each group and position', () => {
    const rewards = [0.2, 0.9, 0.4, 1, 0, 0.3];
    const none = rewards.map(() => [0, 0, 0, 0]);
    const outcome = computeAdvantages(rewards, 3, 'group').advantages;
    positionAdvantages(rewards, none, 3, 'group').forEach((row, i) => row.forEach((a) => expect(a).toBeCloseTo(outcome[i], 12)));
    const credit = [[0.1, 0, 0.1, 0], [0.3, 0.3, 0.3, 0], [0, 0.2, 0.2, 0], [0.5, 0.5, 0, 0], [0, 0, 0, 0], [0.1, 0.1, 0.1, 0]];
    const A = positionAdvantages(rewards, credit, 3, 'none');
    for (const g0 of [0, 3]) for (let l = 0; l < 4; l++) expect(A[g0][l] + A[g0 + 1][l] + A[g0 + 2][l]).toBeCloseTo(0, 12);
  });

  it('refuses credit rows that do not match the rewards', () => {
    expect(() => positionAdvantages([1, 0], [[1]], 2, 'none')).toThrow(/2 rewards but 1 credit rows/);
  });
});

describe('groupTokenAdvantages (credit: token, credit_baseline: group)', () => {
  it('gives each judged token its credit minus the group mean per judged token, plus the uncredited rest (hand-computed)', () => {
    // Group of 2, 4 positions, position 3 never judged. r0 = 0.6: credit [0.25, 0.25, 0, 0], judged [1, 1, 1, 0], rest 0.1.
    // r1 = 0.25: credit [0, 0, 0.25, 0], judged [1, 1, 1, 0], rest 0. Baseline: 0.75 credit over 6 judged tokens = 0.125.
    // Rest mean 0.05.
    const A = groupTokenAdvantages([0.6, 0.25], [[0.25, 0.25, 0, 0], [0, 0, 0.25, 0]], [[1, 1, 1, 0], [1, 1, 1, 0]], 2, 'none');
    const want = [
      [0.25 - 0.125 + 0.05, 0.25 - 0.125 + 0.05, 0 - 0.125 + 0.05, 0.05],
      [0 - 0.125 - 0.05, 0 - 0.125 - 0.05, 0.25 - 0.125 - 0.05, -0.05],
    ];
    A.forEach((row, i) => row.forEach((a, l) => expect(a).toBeCloseTo(want[i][l], 12)));
  });

  it('a cell every completion gets wrong still carries a negative advantage (the position baseline gives it 0)', () => {
    // Sudoku-like: 4 empty cells (credit 1/4 each when right), G = 2, both completions wrong at position 0.
    const credit = [[0, 0.25, 0.25, 0.25], [0, 0.25, 0, 0.25]];
    const judged = [[1, 1, 1, 1], [1, 1, 1, 1]];
    const rewards = credit.map((row) => row.reduce((a, c) => a + c, 0)); // 0.75, 0.5
    const acc = 5 / 8; // group accuracy per judged cell
    const A = groupTokenAdvantages(rewards, credit, judged, 2, 'none');
    expect(A[0][0]).toBeCloseTo(-acc / 4, 12);
    expect(A[1][0]).toBeCloseTo(-acc / 4, 12);
    expect(positionAdvantages(rewards, credit, 2, 'none')[0][0]).toBeCloseTo(0, 12);
    // Summed over a completion's judged tokens: the outcome advantage r_i − mean.
    const outcome = computeAdvantages(rewards, 2, 'none').advantages;
    A.forEach((row, i) => expect(row.reduce((a, x) => a + x, 0)).toBeCloseTo(outcome[i], 12));
  });

  it('a grid stopped short: its unwritten cells, judged on its EOS, count against it (hand-computed)', () => {
    // 4 empty cells, G = 2, positions [c0, c1, c2, c3, EOS]. Completion 0 fills all 4, right at 0-2 (r 0.75).
    // Completion 1 writes 2 cells (right at 0) and then EOS at position 2: its cells 2 and 3 are judged on that token.
    const credit = [[0.25, 0.25, 0.25, 0, 0], [0.25, 0, 0, 0, 0]];
    const judged = [[1, 1, 1, 1, 0], [1, 1, 2, 0, 0]];
    const rewards = [0.75, 0.25];
    const b = 1 / 8; // 4 right cells (credit 1.0) over 8 judgments
    const A = groupTokenAdvantages(rewards, credit, judged, 2, 'none');
    const want = [[0.25 - b, 0.25 - b, 0.25 - b, -b, 0], [0.25 - b, -b, -2 * b, 0, 0]];
    A.forEach((row, i) => row.forEach((a, l) => expect(a).toBeCloseTo(want[i][l], 12)));
    // Every completion's 4 cells judged: advantages sum to the outcome advantage r_i − mean (±0.25).
    const outcome = computeAdvantages(rewards, 2, 'none').advantages;
    A.forEach((row, i) => expect(row.reduce((a, x) => a + x, 0)).toBeCloseTo(outcome[i], 12));
    // Before 2026-12-06 the two unwritten cells were not judged: 6 judgments, b = 1/6, and completion 1's advantages
    // summed to 0.25 − 2/6 ≈ −0.083 instead of its outcome advantage −0.25: stopping short cost less than wrong digits.
    const old = groupTokenAdvantages(rewards, credit, [[1, 1, 1, 1, 0], [1, 1, 0, 0, 0]], 2, 'none');
    expect(old[1].reduce((a, x) => a + x, 0)).toBeCloseTo(0.25 - 2 / 6, 12);
  });

  it('is the outcome advantage at every token when nothing is judged; scaled like the outcome advantages', () => {
    const rewards = [0.2, 0.9, 0.4, 1];
    const none = rewards.map(() => [0, 0, 0]);
    const outcome = computeAdvantages(rewards, 2, 'group').advantages;
    groupTokenAdvantages(rewards, none, none, 2, 'group').forEach((row, i) => row.forEach((a) => expect(a).toBeCloseTo(outcome[i], 12)));
  });

  it('refuses judged rows that do not match the rewards', () => {
    expect(() => groupTokenAdvantages([1, 0], [[1], [0]], [[1]], 2, 'none')).toThrow(/2 rewards but 2 credit rows and 1 judged rows/);
  });
});

describe('grpo.drop_negative_advantages', () => {
  const o = (drop: boolean, credit: 'outcome' | 'token' = 'outcome') => ({
    grpo: grpoSchema.parse({ num_generations: 3, drop_negative_advantages: drop, credit, ...(credit === 'token' ? { credit_baseline: 'group' } : {}) }),
    sampler: { sampler: 'llada' as const, gen_length: 2 },
    grad_accum: 1,
  });

  it('sets negative advantages to 0, per completion and per token, and leaves the rest as GRPO computes them', () => {
    // group [1, 2, 6]: mean 3 → −2, −1, +3; group [4, 4, 4] flat
    const rewards = [1, 2, 6, 4, 4, 4];
    expect(groupAdvantages(rewards, null, null, o(false), null).advantages).toEqual([-2, -1, 3, 0, 0, 0]);
    const dropped = groupAdvantages(rewards, null, null, o(true), null);
    expect(dropped.advantages).toEqual([0, 0, 3, 0, 0, 0]);
    expect(dropped.fracZeroStd).toBe(0.5); // the group statistics are those of the rewards
    // per-token credit (one judged token each, group baseline): token advantages credit − group mean credit, floored
    const credit = [[1, 0], [0, 0], [1, 0], [0, 0], [0, 0], [0, 0]];
    const judged = [[1, 0], [1, 0], [1, 0], [1, 0], [1, 0], [1, 0]];
    const kept = groupAdvantages([1, 0, 1, 0, 0, 0], credit, null, o(false, 'token'), judged).tokenAdvantages!;
    const floored = groupAdvantages([1, 0, 1, 0, 0, 0], credit, null, o(true, 'token'), judged).tokenAdvantages!;
    expect(kept.flat().some((a) => a < 0)).toBe(true);
    expect(floored).toEqual(kept.map((row) => row.map((a) => Math.max(a, 0))));
  });
});
