import { describe, expect, it } from 'vitest';
import { arithmeticFacts } from '../../src/rewards/arithmetic.ts';
import { rewardSourceFromConfig } from '../../src/rewards/registry.ts';

const Q = 'Maya buys 5 packs of 8 stickers and then loses 7. How many stickers does Maya have?';
const done = (work: string, answer: string) => `<reasoning>\n${work}\n</reasoning>\n<answer>\n${answer}\n</answer>\n`;
const facts = (completion: string) => arithmeticFacts({ prompts: [Q], completions: [completion] })[0];

describe('arithmetic_facts: every result digit judged against its own line', () => {
  it('hand values: the number of right result digits, whatever the operands or the answer', () => {
    expect(facts(done('5 * 8 = 40\n40 - 7 = 33', '33')).reward).toBe(4);
    // 40 right (2 digits), 34 for 33: 3 right, 4 wrong -> 3
    expect(facts(done('5 * 8 = 40\n40 - 7 = 34', '34')).reward).toBe(3);
    // 48 for 40: 4 right, 8 wrong; a line computed right on operands the question lacks still counts (label-free)
    expect(facts(done('5 * 8 = 48', '48')).reward).toBe(1);
    expect(facts(done('6 * 8 = 48', '99')).reward).toBe(2);
    // a result of the wrong length: no digit right (7 * 6 = 4 judges one digit, 0 of 1)
    expect(facts(done('7 * 6 = 4', '4')).reward).toBe(0);
    // a division with a remainder or a negative difference has no right digits
    expect(facts(done('7 / 2 = 3', '3')).reward).toBe(0);
    expect(facts(done('3 - 7 = 4', '4')).reward).toBe(0);
  });

  it('credits 1 at each right digit and judges each wrong digit with 0', () => {
    const c = done('5 * 8 = 40\n40 - 7 = 34', '34');
    const { reward, credit } = facts(c);
    const r1 = c.indexOf('= 40') + 2;
    const r2 = c.indexOf('= 34') + 2;
    expect(credit).toEqual([
      { at: r1, value: 1 }, { at: r1 + 1, value: 1 },
      { at: r2, value: 1 }, { at: r2 + 1, value: 0 },
    ]);
    expect(c[r2 + 1]).toBe('4');
    expect(credit.reduce((t, p) => t + p.value, 0)).toBeCloseTo(reward, 12);
  });

  it('judges a completion without a worked line once, with 0 at its end', () => {
    for (const c of ['', '<answer>\n33\n</answer>', done('I think it is 33', '33')]) {
      expect(facts(c)).toEqual({ reward: 0, credit: [{ at: c.length, value: 0 }] });
    }
  });

  it('reads only the reasoning block: an a op b = c line after <answer> is not judged', () => {
    const c = '<reasoning>\n2 + 2 = 4\n</reasoning>\n<answer>\n2 + 2 = 5\n</answer>';
    expect(facts(c).credit).toEqual([{ at: c.indexOf('4'), value: 1 }]);
  });

  it('is a built-in: `rewards: [{ name: arithmetic_facts }]` adds it (weighted) with its credit', async () => {
    const src = await rewardSourceFromConfig([{ name: 'arithmetic_facts', weight: 2, args: {} }], '.');
    const c = done('5 * 8 = 48', '48');
    const out = await src.score([Q], [c], [{}]);
    expect(out.total).toEqual([2]);
    expect(out.credit![0].map((x) => x.value)).toEqual([2, 0]);
  });
});
