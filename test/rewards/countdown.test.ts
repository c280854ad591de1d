import { describe, expect, it } from 'vitest';
import { evaluateArithmetic } from '../../src/rewards/arithmetic.ts';
import { countdownAnswer, countdownClosenessReward, countdownReward, countdownSignsReward, countdownSignsScore } from '../../src/rewards/countdown.ts';

describe('evaluateArithmetic', () => {
  it('follows precedence, parentheses, unary minus and decimals', () => {
    expect(evaluateArithmetic('2+3*4')).toBe(14);
    expect(evaluateArithmetic('(2+3)*4')).toBe(20);
    expect(evaluateArithmetic('100-93+30')).toBe(37);
    expect(evaluateArithmetic('-3 + 10 / 4')).toBe(-0.5);
    expect(evaluateArithmetic('1.5*2')).toBe(3);
    expect(evaluateArithmetic('8/(3-3)')).toBeNull(); // division by zero: not finite
  });

  it('refuses anything that is not plain arithmetic', () => {
    for (const bad of ['', '2**3', '2//3', '(1+2', '1+2)', 'process.exit()', '2+x', '3 4']) expect(evaluateArithmetic(bad)).toBeNull();
  });
});

describe('countdownReward (d1)', () => {
  const rows = [{ numbers: [30, 100, 93], target: 23 }];
  const score = (c: string, r: Record<string, unknown>[] = rows) => countdownReward({ completions: [c], rows: r })[0];

  it('1.0 for a correct equation using each number once', () => {
    expect(score('<answer>30+93-100</answer>')).toBe(1);
    expect(score('<answer> 93 - (100 - 30) </answer>')).toBe(1);
  });
  it('reads d1 test-file rows (input/output) too', () => {
    expect(score('<answer>30+93-100</answer>', [{ input: '30,100,93', output: '23' }])).toBe(1);
  });
  it('0.1 when it parses but the value is wrong', () => expect(score('<answer>30+93+100</answer>')).toBe(0.1));
  it('0.1 when the numbers are not the given ones', () => {
    expect(score('<answer>30+93-100+0</answer>')).toBe(0.1);
    expect(score('<answer>30+30-37</answer>')).toBe(0.1);
  });
  it('0.1 for forbidden characters', () => expect(score('<answer>30+93-100 == 23</answer>')).toBe(0.1));
  it('0 without an answer block', () => {
    expect(score('30+93-100')).toBe(0);
    expect(countdownAnswer('no tags')).toBeNull();
  });
  it('takes the last <answer> block, across lines', () => {
    expect(score('<answer>1+1</answer> then <answer>\n30+93-100\n</answer>')).toBe(1);
  });
});

describe('countdownClosenessReward (partial credit)', () => {
  const rows = [{ numbers: [30, 100, 93], target: 23 }];
  const score = (c: string, args: Record<string, unknown> = {}) => countdownClosenessReward({ completions: [c], rows, args })[0];

  it('1 - |value - target| / scale for a well-formed answer (hand values)', () => {
    expect(score('<answer>+ 30-100+ 93</answer>')).toBe(1); // 23: right
    expect(score('<answer>- 30-100+ 93</answer>')).toBeCloseTo(1 - 60 / 100, 12); // -37
    expect(score('<answer>+ 30+100- 93</answer>')).toBeCloseTo(1 - 14 / 100, 12); // 37
    expect(score('<answer>+ 30+100- 93</answer>', { scale: 20 })).toBeCloseTo(1 - 14 / 20, 12);
    expect(score('<answer>+ 30+100+ 93</answer>')).toBe(0); // 223: 200 away, floored at 0
  });
  it('0 without an answer, with other numbers, or forbidden characters', () => {
    expect(score('+ 30-100+ 93')).toBe(0);
    expect(score('<answer>+ 30-100+ 92</answer>')).toBe(0);
    expect(score('<answer>30-100+93 = 23</answer>')).toBe(0);
  });
  it('refuses a scale that is not a positive number, naming the key', () => {
    expect(() => score('<answer>+ 30-100+ 93</answer>', { scale: 0 })).toThrow(/args.scale/);
  });
});

describe('countdown_signs (sign-level credit for the signs format)', () => {
  const numbers = [30, 100, 93];
  const target = 23; // + 30 - 100 + 93: the only solving pattern
  it('a right answer scores 1 with 1/3 at each sign character', () => {
    const c = '<answer>+ 30-100+ 93</answer>';
    const { reward, credit } = countdownSignsScore(c, numbers, target);
    expect(reward).toBe(1);
    expect(credit).toEqual([8, 12, 16].map((at) => ({ at, value: 1 / 3 })));
    expect(credit.map((x) => c[x.at])).toEqual(['+', '-', '+']);
  });
  it('a wrong pattern: each agreeing sign earns 1/3, each disagreeing one is judged 0', () => {
    // - 30 - 100 + 93 = -37: the first sign differs from the solution (+ - +).
    const { reward, credit } = countdownSignsScore('<answer>- 30-100+ 93</answer>', numbers, target);
    expect(reward).toBeCloseTo(2 / 3, 12);
    expect(credit.map((x) => x.value)).toEqual([0, 1 / 3, 1 / 3]);
    // + 30 + 100 - 93 = 37: two signs differ.
    expect(countdownSignsScore('<answer>+ 30+100- 93</answer>', numbers, target).reward).toBeCloseTo(1 / 3, 12);
  });
  it('compares with the nearest of several solving patterns', () => {
    // 10, 10, 10 -> 10: - + +, + - +, + + - solve it. - - - is two signs from each: the first in enumeration order
    // (- + +, the first sign flipped first) is the reference, so only the first sign agrees.
    const r = countdownSignsScore('<answer>- 10- 10- 10</answer>', [10, 10, 10], 10);
    expect(r.reward).toBeCloseTo(1 / 3, 12);
    expect(r.credit.map((x) => x.value)).toEqual([1 / 3, 0, 0]);
    // + + + is one sign from each: again the first, - + +.
    expect(countdownSignsScore('<answer>+ 10+ 10+ 10</answer>', [10, 10, 10], 10).credit.map((x) => x.value)).toEqual([0, 1 / 3, 1 / 3]);
    expect(countdownSignsScore('<answer>+ 10- 10+ 10</answer>', [10, 10, 10], 10).reward).toBe(1);
  });
  it('0 with the n signs judged wrong at the end: no answer block, other numbers, other order, extra text; 0 and no credit: no signed-sum solution', () => {
    for (const c of ['+ 30-100+ 93', '<answer>+ 30-100+ 94</answer>', '<answer>+100- 30+ 93</answer>', '<answer>+ 30-100+ 93=23</answer>', '<answer>+ 30-100</answer>']) {
      expect(countdownSignsScore(c, numbers, target)).toEqual({ reward: 0, credit: Array(3).fill({ at: c.length, value: 0 }) });
    }
    expect(countdownSignsScore('<answer>+  2+  3+  4</answer>', [2, 3, 4], 24)).toEqual({ reward: 0, credit: [] }); // needs ×
  });
  it('reads numbers and target from the data rows', () => {
    const out = countdownSignsReward({ completions: ['<answer>+ 30-100+ 93</answer>'], rows: [{ numbers, target }] });
    expect(out[0].reward).toBe(1);
  });
});
