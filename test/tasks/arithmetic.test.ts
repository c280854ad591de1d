import { describe, expect, it } from 'vitest';
import { gsm8kCorrectness, gsm8kGold } from '../../src/rewards/gsm8k.ts';
import { generateArithmeticSet } from '../../src/tasks/arithmetic.ts';

/** Recomputes the answer from the question's own numbers and wording, independently of the generator. */
function solve(q: string): number {
  const n = (q.match(/\d+/g) ?? []).map(Number);
  if (q.includes('gets') && q.includes('more')) return n[0] + n[1];
  if (q.includes('gives away')) return n[0] - n[1];
  if (q.includes('packs of')) return n[0] * n[1] - n[2];
  if (q.includes('boxes with')) return n[0] * n[1];
  if (q.includes('shares')) return n[0] / n[1];
  throw new Error(`unknown template: ${q}`);
}

describe('arithmetic word problems', () => {
  const set = generateArithmeticSet(3, 300);

  it('every answer matches an independent recomputation and is a non-negative integer', () => {
    for (const it of set) {
      expect(solve(it.question)).toBe(it.value);
      expect(Number.isInteger(it.value) && it.value >= 0).toBe(true);
    }
    const kinds = new Set(set.map((i) => ['more', 'gives away', 'packs of', 'boxes with', 'shares'].find((k) => i.question.includes(k))));
    expect(kinds.size).toBe(5); // all five templates (+, −, ×, ÷, two-step) occur
  });

  it('is deterministic by seed, distinct within a set, and honours exclude', () => {
    expect(generateArithmeticSet(3, 300)).toEqual(set);
    expect(generateArithmeticSet(4, 300)).not.toEqual(set);
    expect(new Set(set.map((i) => i.question)).size).toBe(300);
    const held = new Set(set.slice(0, 50).map((i) => i.question));
    const other = generateArithmeticSet(3, 300, { exclude: held });
    for (const it of other) expect(held.has(it.question)).toBe(false);
  });

  it('answers are GSM8K-formatted: the GSM8K gold parser and correctness reward read them', () => {
    const it0 = set[0];
    expect(gsm8kGold({ answer: it0.answer })).toBe(String(it0.value));
    const good = `<reasoning>\nwork\n</reasoning>\n<answer>\n${it0.value}\n</answer>\n`;
    const bad = `<reasoning>\nwork\n</reasoning>\n<answer>\n${it0.value + 1}\n</answer>\n`;
    expect(gsm8kCorrectness({ completions: [good, bad], rows: [{ answer: it0.answer }, { answer: it0.answer }] })).toEqual([2, 0]);
  });
});
