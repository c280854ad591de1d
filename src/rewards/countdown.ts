/**
 * d1's Countdown reward (diffu-grpo/reward_func.py): the equation inside the last <answer>…</answer> (DOTALL);
 *   no answer                                   -> 0
 *   numbers used ≠ the given numbers (multiset) -> 0.1
 *   characters other than digits + - * / ( ) . and spaces, or unparsable -> 0.1
 *   |value − target| < 1e-5                     -> 1.0, else 0.1
 * d1 evaluates with Python's eval after the character check; we use a small parser instead (rewards/arithmetic.ts).
 */
import { countdownFields } from '../tokenizer/templates.ts';
import { evaluateArithmetic } from './arithmetic.ts';

export function countdownAnswer(completion: string): string | null {
  const all = [...completion.matchAll(/<answer>([\s\S]*?)<\/answer>/g)];
  return all.length > 0 ? all[all.length - 1][1].trim() : null;
}

export function countdownScore(equation: string | null, numbers: number[], target: number): number {
  if (equation === null) return 0;
  const used = (equation.match(/\d+/g) ?? []).map(Number).sort((a, b) => a - b);
  const given = [...numbers].sort((a, b) => a - b);
  if (used.length !== given.length || used.some((n, k) => n !== given[k])) return 0.1;
  if (!/^[\d+\-*/().\s]+$/.test(equation)) return 0.1;
  const value = evaluateArithmetic(equation);
  return value !== null && Math.abs(value - target) < 1e-5 ? 1.0 : 0.1;
}

/** TRL-style reward: rows carry `numbers`/`target` (generated) or d1's `input`/`output` (test file). */
export function countdownReward({ completions, rows }: { completions: string[]; rows: Record<string, unknown>[] }): number[] {
  return completions.map((c, i) => {
    const { numbers, target } = countdownFields(rows[i]);
    return countdownScore(countdownAnswer(c), numbers, target);
  });
}
