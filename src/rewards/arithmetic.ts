import { extractXmlAnswer, toNumber } from './gsm8k.ts';
import type { Credit, CreditedReward } from './types.ts';

/**
 * A tiny recursive-descent evaluator for + - * / and parentheses over decimal numbers — what Countdown answers need,
 * without ever calling eval() on model output. Returns null for anything else (letters, `**`, empty input, ...).
 *   expr   := term (('+' | '-') term)*
 *   term   := factor (('*' | '/') factor)*
 *   factor := ('+' | '-') factor | number | '(' expr ')'
 */
export function evaluateArithmetic(text: string): number | null {
  const src = text;
  let i = 0;
  // Whitespace separates tokens but never joins them: "3 4" is an error (as in Python), not 34.
  const peek = () => {
    while (i < src.length && /\s/.test(src[i])) i++;
    return src[i];
  };
  function expr(): number | null {
    let v = term();
    while (v !== null && (peek() === '+' || peek() === '-')) {
      const op = src[i++];
      const r = term();
      if (r === null) return null;
      v = op === '+' ? v + r : v - r;
    }
    return v;
  }
  function term(): number | null {
    let v = factor();
    while (v !== null && (peek() === '*' || peek() === '/')) {
      const op = src[i++];
      if (peek() === '*' || peek() === '/') return null; // `**` and `//` are not arithmetic here
      const r = factor();
      if (r === null) return null;
      v = op === '*' ? v * r : v / r;
    }
    return v;
  }
  function factor(): number | null {
    const c = peek();
    if (c === '+' || c === '-') {
      i++;
      const v = factor();
      return v === null ? null : c === '-' ? -v : v;
    }
    if (c === '(') {
      i++;
      const v = expr();
      if (v === null || peek() !== ')') return null;
      i++;
      return v;
    }
    if (peek() === undefined) return null;
    const m = /^\d+(\.\d+)?/.exec(src.slice(i));
    if (!m) return null;
    i += m[0].length;
    return Number(m[0]);
  }
  const v = expr();
  return v !== null && peek() === undefined && Number.isFinite(v) ? v : null;
}

/**
 * The worked `a op b = c` lines of a completion's <reasoning> block (up to </reasoning> or <answer>), each with its
 * regex match (groups 1–4: a, op, b, c, with indices) and `start`, the offset of the block's body in the completion,
 * so that `start + m.indices[g][0]` is group g's character in the completion. null without a <reasoning> tag.
 */
export function workedLines(completion: string): { start: number; lines: RegExpExecArray[] } | null {
  const open = completion.indexOf('<reasoning>');
  if (open < 0) return null;
  const start = open + '<reasoning>'.length;
  const rest = completion.slice(start);
  const close = rest.search(/<\/reasoning>|<answer>/);
  const body = close < 0 ? rest : rest.slice(0, close);
  return { start, lines: [...body.matchAll(/^[ \t]*(\d+)[ \t]*([-+*/])[ \t]*(\d+)[ \t]*=[ \t]*(\d+)[ \t]*$/dgm)] };
}

/**
 * `arithmetic_steps` (ours; a label-free process reward for GSM8K-style worked solutions): reads the `a op b = c`
 * lines of the completion's <reasoning> block and checks what can be checked without the answer:
 *   grounded  each operand is a number of the prompt or the result of an earlier line (the question's numbers copied);
 *   computed  c = a op b;
 *   answered  the <answer> number (d1's reading) is the last line's result.
 * Reward = 0.5 · mean over lines of (¼ per grounded operand + ½ if computed) + 0.5 · answered; 0 without such a line.
 * Every part is credited to the characters that earned it (shared by a number's digits: operand, result, answer), so
 * `grpo.credit: token` gives each copied operand its own advantage, as Sudoku's per-cell credit does; the worked
 * lines of a group line up token by token when the numbers have one digit (data.arithmetic_small).
 * It cannot tell which operation the question asks for: that stays with gsm8k_correctness (which needs the label).
 */
export function arithmeticSteps(a: { prompts: string[]; completions: string[] }): CreditedReward[] {
  return a.completions.map((c, i) => {
    const worked = workedLines(c);
    if (!worked) return { reward: 0, credit: [] };
    const { start, lines } = worked;
    const known = new Set((a.prompts[i] ?? '').match(/\d+/g) ?? []);
    if (lines.length === 0) return { reward: 0, credit: [] };
    const credit: Credit[] = [];
    // A number's credit is shared by its digits: the digit that is wrong (45 for 42: the 5) must get the signal.
    const give = (at: number, digits: string, value: number) => {
      for (let d = 0; d < digits.length; d++) credit.push({ at: at + d, value: value / digits.length });
    };
    const w = 0.5 / lines.length; // each line's share of the first half
    for (const m of lines) {
      const [, x, op, y, z] = m;
      const at = (g: number) => start + m.indices![g][0];
      if (known.has(x)) give(at(1), x, 0.25 * w);
      if (known.has(y)) give(at(3), y, 0.25 * w);
      if (evaluateArithmetic(`${x}${op}${y}`) === Number(z)) give(at(4), z, 0.5 * w);
      known.add(z);
    }
    const last = Number(lines[lines.length - 1][4]);
    const k = c.lastIndexOf('<answer>');
    const answer = k >= 0 ? toNumber(extractXmlAnswer(c)) : null; // d1's reading of the answer
    if (answer !== null && answer === last) {
      const a = /-?\d+/.exec(c.slice(k + '<answer>'.length))!;
      give(k + '<answer>'.length + a.index, a[0], 0.5);
    }
    return { reward: credit.reduce((t, p) => t + p.value, 0), credit };
  });
}

/**
 * `arithmetic_facts` (ours; label-free): every digit of every worked line's result is judged against the line's own
 * operands. For each `a op b = c` line of the <reasoning> block the right result r = a op b is computed (no label: the
 * operands are the completion's own); c's digit k is right when c has as many digits as r and its k-th digit is r's.
 * Reward = the number of right result digits: each judged digit is credited 1 when right and judged with 0 when wrong,
 * so `grpo.credit: token` with `credit_baseline: group` gives a right digit v·(1 − a) and a wrong one −v·a, a the
 * group's digit accuracy and v the reward's weight (the Sudoku recipe's per-cell credit). Every digit is worth the same
 * whatever the completion's length: with 1/judged per digit a right digit of a longer completion would sit below the
 * group's mean per judged digit and be pushed down. The price: a completion that writes more right lines earns more,
 * so keep it beside a correctness reward. Why: after SFT on 500 worked solutions of the single-digit
 * problems, 51 of the 60% wrong answers on the held-out problems have a miscomputed line (`7 * 6 = 48`): a one-digit
 * fact that a verifier can judge without the answer. Whether the right operation was used stays gsm8k_correctness's.
 * No worked line: reward 0, judged once with 0 at the completion's end (a completion that stops short is judged).
 */
export function arithmeticFacts(a: { prompts: string[]; completions: string[] }): CreditedReward[] {
  return a.completions.map((c) => {
    const { start, lines } = workedLines(c) ?? { start: 0, lines: [] };
    if (lines.length === 0) return { reward: 0, credit: [{ at: c.length, value: 0 }] };
    const judged: { at: number; right: boolean }[] = [];
    for (const m of lines) {
      const [, x, op, y, z] = m;
      const r = evaluateArithmetic(`${x}${op}${y}`);
      const want = r !== null && Number.isInteger(r) && r >= 0 ? String(r) : null; // a remainder or a negative: no digit can be right
      const at = start + m.indices![4][0];
      for (let k = 0; k < z.length; k++) judged.push({ at: at + k, right: want !== null && want.length === z.length && want[k] === z[k] });
    }
    const credit = judged.map((j) => ({ at: j.at, value: j.right ? 1 : 0 }));
    return { reward: credit.reduce((t, p) => t + p.value, 0), credit };
  });
}
