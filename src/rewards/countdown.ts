/**
 * d1's Countdown reward (diffu-grpo/reward_func.py): the equation inside the last <answer>…</answer> (DOTALL);
 *   no answer                                   -> 0
 *   numbers used ≠ the given numbers (multiset) -> 0.1
 *   characters other than digits + - * / ( ) . and spaces, or unparsable -> 0.1
 *   |value − target| < 1e-5                     -> 1.0, else 0.1
 * d1 evaluates with Python's eval after the character check; we use a small parser instead (rewards/arithmetic.ts).
 */
import { ConfigError } from '../errors.ts';
import { countdownFields } from '../tokenizer/templates.ts';
import { evaluateArithmetic } from './arithmetic.ts';
import type { CreditedReward } from './types.ts';

export function countdownAnswer(completion: string): string | null {
  const all = [...completion.matchAll(/<answer>([\s\S]*?)<\/answer>/g)];
  return all.length > 0 ? all[all.length - 1][1].trim() : null;
}

export function countdownScore(equation: string | null, numbers: number[], target: number): number {
  if (equation === null) return 0;
  const value = wellFormedValue(equation, numbers);
  return value !== null && Math.abs(value - target) < 1e-5 ? 1.0 : 0.1;
}

/** The value of an equation that uses exactly the given numbers (as a multiset) and only d1's allowed characters, else null. */
function wellFormedValue(equation: string, numbers: number[]): number | null {
  const used = (equation.match(/\d+/g) ?? []).map(Number).sort((a, b) => a - b);
  const given = [...numbers].sort((a, b) => a - b);
  if (used.length !== given.length || used.some((n, k) => n !== given[k])) return null;
  if (!/^[\d+\-*/().\s]+$/.test(equation)) return null;
  return evaluateArithmetic(equation);
}

/** TRL-style reward: rows carry `numbers`/`target` (generated) or d1's `input`/`output` (test file). */
export function countdownReward({ completions, rows }: { completions: string[]; rows: Record<string, unknown>[] }): number[] {
  return completions.map((c, i) => {
    const { numbers, target } = countdownFields(rows[i]);
    return countdownScore(countdownAnswer(c), numbers, target);
  });
}

/**
 * Partial credit for Countdown (ours, not d1's; issue 18 allows it): how close a well-formed answer's value is to the
 * target, max(0, 1 - |value - target| / scale), 1 when right, 0 when there is no <answer>, when the numbers are not
 * exactly the given ones, or when the expression does not evaluate. `args.scale` (default 100, the range of d1's
 * numbers and targets) is the distance at which the credit reaches 0. Meant as a second reward beside `countdown`
 * (e.g. weight 0.3), so a right answer still scores clearly above any near miss. It helps only groups whose
 * completions differ: G identical answers get identical rewards either way.
 */
export function countdownClosenessScore(equation: string | null, numbers: number[], target: number, scale = 100): number {
  const value = equation === null ? null : wellFormedValue(equation, numbers);
  return value === null ? 0 : Math.max(0, 1 - Math.abs(value - target) / scale);
}

export function countdownClosenessReward({ completions, rows, args }: { completions: string[]; rows: Record<string, unknown>[]; args?: Record<string, unknown> }): number[] {
  const scale = args?.scale ?? 100;
  if (typeof scale !== 'number' || !(scale > 0)) throw new ConfigError(`countdown_closeness: args.scale must be a positive number, got ${JSON.stringify(scale)}`);
  return completions.map((c, i) => {
    const { numbers, target } = countdownFields(rows[i]);
    return countdownClosenessScore(countdownAnswer(c), numbers, target, scale);
  });
}

/**
 * Sign-level credit for the signs format (`data.countdown_signs`: `<answer>+ 30-100+ 93</answer>`, the prompt's numbers
 * in order, each behind its sign). Ours, not d1's. The puzzle's own verifier search: of the 2^n sign patterns, those
 * whose signed sum is the target solve it; the answer's signs are compared with the solving pattern nearest to them
 * (fewest differing signs; ties: the first in +/− enumeration order) and each sign that agrees earns 1/n, credited at
 * its character, while a sign that disagrees gets a credit entry of 0 (judged: `grpo.credit_baseline: group`). So a
 * right answer scores 1 and a group that repeats one wrong pattern still learns which of its signs are wrong. 0 when
 * the last <answer> block is not exactly n signed numbers equal to the prompt's numbers in order, with its n signs
 * judged wrong at the completion's end (rewards/types.ts Credit); 0 and no credit when no sign pattern solves the
 * puzzle (it needs × or ÷). No label is read: numbers and target come from the prompt.
 */
export function countdownSignsScore(completion: string, numbers: number[], target: number): CreditedReward {
  const n = numbers.length;
  const patterns = Array.from({ length: 1 << n }, (_, mask) => numbers.map((_, i) => (mask & (1 << i) ? -1 : 1)));
  const solving = patterns.filter((p) => Math.abs(p.reduce((s, x, i) => s + x * numbers[i], 0) - target) <= 1e-9);
  if (solving.length === 0) return { reward: 0, credit: [] };
  const malformed: CreditedReward = { reward: 0, credit: numbers.map(() => ({ at: completion.length, value: 0 })) };
  const blocks = [...completion.matchAll(/<answer>([\s\S]*?)<\/answer>/g)];
  if (blocks.length === 0) return malformed;
  const last = blocks[blocks.length - 1];
  const inner = last[1];
  const base = last.index! + '<answer>'.length;
  const terms = [...inner.matchAll(/([+-])\s*(\d+)/g)];
  if (terms.length !== n || inner.replace(/([+-])\s*(\d+)/g, '').trim() !== '') return malformed;
  if (terms.some((t, i) => Number(t[2]) !== numbers[i])) return malformed;
  const signs = terms.map((t) => (t[1] === '+' ? 1 : -1));
  let best = solving[0];
  let bestDiff = Infinity;
  for (const pattern of solving) {
    const diff = pattern.filter((p, i) => p !== signs[i]).length;
    if (diff < bestDiff) [best, bestDiff] = [pattern, diff];
  }
  const credit = terms.map((t, i) => ({ at: base + t.index!, value: signs[i] === best[i] ? 1 / n : 0 }));
  return { reward: (n - bestDiff) / n, credit };
}

export function countdownSignsReward({ completions, rows }: { completions: string[]; rows: Record<string, unknown>[] }): CreditedReward[] {
  return completions.map((c, i) => {
    const { numbers, target } = countdownFields(rows[i]);
    return countdownSignsScore(c, numbers, target);
  });
}
