import { describe, expect, it } from 'vitest';
import { arithmeticSteps } from '../../src/rewards/arithmetic.ts';
import { rewardSourceFromConfig } from '../../src/rewards/registry.ts';

const Q = 'Maya buys 5 packs of 8 stickers and then loses 7. How many stickers does Maya have?';
const done = (work: string, answer: string) => `<reasoning>\n${work}\n</reasoning>\n<answer>\n${answer}\n</answer>\n`;
const score = (completion: string, prompt = Q) => arithmeticSteps({ prompts: [prompt], completions: [completion] })[0].reward;

describe('arithmetic_steps: a label-free check of worked a op b = c lines', () => {
  it('a right two-step solution scores 1', () => {
    expect(score(done('5 * 8 = 40\n40 - 7 = 33', '33'))).toBe(1);
  });

  it('hand values: grounded operands, computation and the answer each count', () => {
    // operands copied, 5 * 8 = 41 miscomputed; second line grounded (41 is an earlier result) and right; answer = last.
    // lines: (0.25 + 0.25 + 0) and (0.25 + 0.25 + 0.5) -> mean 0.75 -> 0.5 * 0.75 + 0.5 = 0.875
    expect(score(done('5 * 8 = 41\n41 - 7 = 34', '34'))).toBeCloseTo(0.875, 12);
    // 6 is not in the question: one line, 0.25 + 0 + 0.5 (6 * 8 = 48) -> 0.5 * 0.75 = 0.375; answer 48 = last -> + 0.5
    expect(score(done('6 * 8 = 48', '48'))).toBeCloseTo(0.875, 12);
    // right line, answer differs from it: 0.5 * 1 + 0
    expect(score(done('5 * 8 = 40', '33'))).toBe(0.5);
    // nothing grounded, nothing right, no answer: 0
    expect(score('<reasoning>\n9 * 9 = 1\n</reasoning>\n')).toBe(0);
  });

  it('scores 0 without a reasoning block or without any a op b = c line', () => {
    expect(score(done('I think it is 33', '33'))).toBe(0);
    expect(score('<answer>\n33\n</answer>')).toBe(0);
    expect(score('')).toBe(0);
  });

  it('reads the numbers of its own prompt, not another row\'s', () => {
    const r = arithmeticSteps({ prompts: [Q, 'Tom has 2 apples and gets 3 more.'], completions: [done('5 * 8 = 40', '40'), done('5 * 8 = 40', '40')] });
    expect(r[0].reward).toBe(1);
    expect(r[1].reward).toBe(0.75); // 5 and 8 are not Tom's numbers: 0.5 * 0.5 + 0.5
  });

  it('credits each part to the character that earned it, and the credit sums to the reward', () => {
    const c = done('5 * 8 = 41\n41 - 7 = 34', '34');
    const { reward, credit } = arithmeticSteps({ prompts: [Q], completions: [c] })[0];
    const at = (v: number, from = 0) => c.indexOf(String(v), from);
    const line2 = c.indexOf('41 - 7');
    // two lines: w = 0.25 each; operands 0.0625, a right result 0.125, the answer 0.5, each shared by its digits
    expect(credit).toEqual([
      { at: at(5), value: 0.0625 },
      { at: at(8), value: 0.0625 },
      { at: line2, value: 0.03125 },
      { at: line2 + 1, value: 0.03125 },
      { at: line2 + 5, value: 0.0625 },
      { at: c.indexOf('34'), value: 0.0625 },
      { at: c.indexOf('34') + 1, value: 0.0625 },
      { at: c.indexOf('34', c.indexOf('<answer>')), value: 0.25 },
      { at: c.indexOf('34', c.indexOf('<answer>')) + 1, value: 0.25 },
    ]);
    expect(credit.reduce((t, p) => t + p.value, 0)).toBeCloseTo(reward, 12);
    expect(c[credit[5].at] + c[credit[6].at]).toBe('34'); // the result's two digits
  });

  it('is a built-in: `rewards: [{ name: arithmetic_steps }]` adds it to the weighted total', async () => {
    const src = await rewardSourceFromConfig([{ name: 'arithmetic_steps', weight: 2, args: {} }], '.');
    const { total } = await src.score([Q], [done('5 * 8 = 40\n40 - 7 = 33', '33')], [{}]);
    expect(total).toEqual([2]);
  });
});
