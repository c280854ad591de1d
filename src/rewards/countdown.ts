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
