/** scripts/expert-iteration.ts: which sampled completions become training rows (hand-made samples). */
import { describe, expect, it } from 'vitest';
import { verifiedAnswers } from '../../scripts/expert-iteration.ts';

const ar = (index: number, completion: string, score: number) => ({ index, completion, score, sample: 0 });
const tpl = (lines: string, n: string) => `<reasoning>\n${lines}\n</reasoning>\n<answer>\n${n}\n</answer>\n`;

describe('expert iteration: verified answers', () => {
  it('arithmetic: keeps right answers in the template whose every line is computed right, distinct per item', () => {
    const { kept, right, wrongLine } = verifiedAnswers('arithmetic', [
      { summary: { accuracy: 0.5 } },
      ar(0, tpl('2 * 3 = 6\n6 - 3 = 3', '3'), 1),
      ar(0, tpl('2 * 3 = 6\n6 - 3 = 3', '3'), 1), // a duplicate: one row
      ar(1, tpl('9 + 2 = 10', '11'), 1), // right answer under a miscomputed line: dropped
      ar(1, tpl('9 + 1 = 11', '11'), 1), // wrong operand, line miscomputed: dropped
      ar(2, tpl('4 + 3 = 7', '7'), 0), // wrong per the checker (score 0): not counted
      ar(3, '<answer>\n5\n</answer>\n', 1), // no worked lines: not the template, skipped (not counted as a wrong line)
      ar(4, tpl('63 / 7 = 9', '9'), 1),
    ]);
    expect(right).toBe(6);
    expect(wrongLine).toBe(2);
    expect([...kept.entries()].map(([i, s]) => [i, [...s]])).toEqual([[0, ['2 * 3 = 6\n6 - 3 = 3\n#### 3']], [4, ['63 / 7 = 9\n#### 9']]]);
  });

  it('countdown: the <answer> text of right completions, every distinct one', () => {
    const { kept, right } = verifiedAnswers('countdown', [
      { index: 0, completion: '<answer>+ 30-100+ 93</answer>', score: 1 },
      { index: 0, completion: '<answer>- 30+100- 93</answer>', score: 1 },
      { index: 0, completion: '<answer>+ 30-100+ 93</answer>', score: 1 },
      { index: 1, completion: '<answer>+ 30+100+ 93</answer>', score: 0 },
      { index: 2, completion: 'no answer', score: 1 },
    ]);
    expect(right).toBe(4);
    expect([...kept.entries()].map(([i, s]) => [i, [...s]])).toEqual([[0, ['+ 30-100+ 93', '- 30+100- 93']]]);
  });
});
