import { describe, expect, it } from 'vitest';
import { evaluateArithmetic } from '../../src/rewards/arithmetic.ts';
import { countdownAnswer, countdownClosenessReward, countdownReward } from '../../src/rewards/countdown.ts';

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
