/**
 * Simple arithmetic word problems (one or two steps, small non-negative integers), deterministic by seed. Each item
 * has a `question` and a GSM8K-style `answer` ("{worked line}\n#### {n}"), so the GSM8K template, rewards and eval
 * parsing (rewards/gsm8k.ts gsm8kGold) read it unchanged; `value` is the number itself.
 *
 * `small` (data.arithmetic_small): every number in the question that is not a product is a single digit (1-9), so an
 * operand is one token of the digit-split BPE and each step is a one-digit fact (sums <= 18, products <= 81). The
 * standard ranges (operands up to 60, 2-digit sums with carries) are more than the 0.96M model learns in 2,000 SFT
 * steps (docs/study/arithmetic.md); the small ranges keep the same five templates and wording.
 */
import { ConfigError } from '../errors.ts';
import { Rng } from '../rng.ts';

export interface ArithmeticItem {
  question: string;
  answer: string; // "<a> + <b> = <n>\n#### <n>"
  value: number;
}

const NAMES = ['Tom', 'Ana', 'Lee', 'Maya', 'Omar', 'Sara', 'Ben', 'Iris'];
const THINGS = ['apples', 'pencils', 'stickers', 'marbles', 'books', 'coins', 'shells', 'cards'];

type Template = (rng: Rng, who: string, what: string, small: boolean) => { question: string; work: string; value: number };

const r = (rng: Rng, lo: number, hi: number) => lo + rng.int(hi - lo + 1); // integer in [lo, hi]

const TEMPLATES: Template[] = [
  (rng, who, what, small) => {
    const [lo, hi] = small ? [1, 9] : [2, 50];
    const a = r(rng, lo, hi), b = r(rng, lo, hi);
    return { question: `${who} has ${a} ${what} and gets ${b} more. How many ${what} does ${who} have now?`, work: `${a} + ${b} = ${a + b}`, value: a + b };
  },
  (rng, who, what, small) => {
    const a = small ? r(rng, 2, 9) : r(rng, 10, 60), b = r(rng, 1, small ? a - 1 : a);
    return { question: `${who} has ${a} ${what} and gives away ${b}. How many ${what} are left?`, work: `${a} - ${b} = ${a - b}`, value: a - b };
  },
  (rng, who, what, small) => {
    const a = r(rng, 2, 9), b = r(rng, 2, small ? 9 : 12);
    return { question: `${who} has ${a} boxes with ${b} ${what} in each box. How many ${what} are there in total?`, work: `${a} * ${b} = ${a * b}`, value: a * b };
  },
  (rng, who, what, small) => {
    const k = r(rng, 2, 9), q = r(rng, 2, small ? 9 : 12);
    return { question: `${who} shares ${k * q} ${what} equally among ${k} friends. How many ${what} does each friend get?`, work: `${k * q} / ${k} = ${q}`, value: q };
  },
  (rng, who, what, small) => {
    const a = r(rng, 2, 9), b = r(rng, 2, small ? 9 : 12), c = r(rng, 1, small ? Math.min(9, a * b) : a * b);
    return {
      question: `${who} buys ${a} packs of ${b} ${what} and then loses ${c}. How many ${what} does ${who} have?`,
      work: `${a} * ${b} = ${a * b}\n${a * b} - ${c} = ${a * b - c}`,
      value: a * b - c,
    };
  },
];

export function generateArithmetic(rng: Rng, small = false): ArithmeticItem {
  const t = TEMPLATES[rng.int(TEMPLATES.length)];
  const { question, work, value } = t(rng, NAMES[rng.int(NAMES.length)], THINGS[rng.int(THINGS.length)], small);
  return { question, answer: `${work}\n#### ${value}`, value };
}

/** `n` distinct problems, deterministic in `seed` (and `small`); questions in `exclude` (e.g. a held-out file's) never appear. */
export function generateArithmeticSet(seed: number, n: number, opts: { exclude?: Set<string>; small?: boolean } = {}): ArithmeticItem[] {
  const seen = new Set(opts.exclude ?? []);
  const rng = new Rng(seed, 'arithmetic');
  const out: ArithmeticItem[] = [];
  let misses = 0;
  while (out.length < n) {
    const item = generateArithmetic(rng, opts.small ?? false);
    if (seen.has(item.question)) {
      if (++misses > 100_000) throw new ConfigError(`generateArithmeticSet: cannot find ${n} distinct problems (got ${out.length})`);
      continue;
    }
    misses = 0;
    seen.add(item.question);
    out.push(item);
  }
  return out;
}
