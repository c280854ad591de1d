/**
 * Countdown with 3 numbers (d1's cd3 test set): combine every number exactly once with + - * / to reach the target.
 *
 * Arithmetic is exact (rationals). d1's reward evaluates the expression in floating point and accepts
 * |result - target| < 1e-5; with integers <= 100 and three operands every non-equal rational result differs from an
 * integer target by at least 1/10^4, so exact equality accepts exactly the same expressions. Intermediate values may
 * be negative or fractional, as Python's eval allows. Division by zero is skipped.
 *
 * Generation mimics the test file (data/countdown/countdown_cd3_test.jsonl, 256 rows): numbers and
 * targets both lie in 1..100 and look uniform; 8 of 256 rows repeat a number, which is what drawing 3 numbers from
 * 1..100 with replacement gives (about 3%). So: numbers uniform in 1..100 with replacement, target uniform in 1..100,
 * redrawn until solvable. (TinyZero's Countdown-Tasks-3to4, d1's training set, is not available offline.)
 */
import { ConfigError } from '../errors.ts';
import { Rng } from '../rng.ts';

export interface CountdownItem {
  numbers: number[];
  target: number;
  /** An expression reaching the target, as chosen by solveCountdown (e.g. 30,100,93 -> 23: "30+93-100"). */
  solution: string;
  /** With `trace: true`: the worked sum (signedSumTrace), and `solution` is its expression when it has one. */
  trace?: string;
}

export interface CountdownOptions {
  /** How many numbers (3 for cd3). */
  numNumbers?: number;
  minNumber?: number;
  maxNumber?: number;
  minTarget?: number;
  maxTarget?: number;
  /** Add the signed-sum reasoning trace (signedSumTrace) to every item; data.countdown_trace in a config. */
  trace?: boolean;
  /** Only puzzles a signed sum solves, `solution` = signedSumSigns (data.countdown_signs in a config). */
  signs?: boolean;
}

const DEFAULTS: Required<CountdownOptions> = { numNumbers: 3, minNumber: 1, maxNumber: 100, minTarget: 1, maxTarget: 100, trace: false, signs: false };

/** Exact rational n/d, d > 0, in lowest terms. */
interface Frac {
  n: number;
  d: number;
}
/** A partial expression: its value, its text, the precedence of its top operator (3 = a number), and a simplicity cost. */
interface Term {
  v: Frac;
  s: string;
  prec: number;
  /** Intermediate results that are negative or fractional (harder for a model to follow). */
  odd: number;
}

function gcd(a: number, b: number): number {
  a = Math.abs(a);
  b = Math.abs(b);
  while (b) [a, b] = [b, a % b];
  return a;
}
function frac(n: number, d: number): Frac {
  if (d < 0) [n, d] = [-n, -d];
  const g = gcd(n, d) || 1;
  return { n: n / g, d: d / g };
}

const OPS = ['+', '-', '*', '/'] as const;
type Op = (typeof OPS)[number];
const PREC: Record<Op, number> = { '+': 1, '-': 1, '*': 2, '/': 2 };

function apply(op: Op, a: Frac, b: Frac): Frac | null {
  switch (op) {
    case '+':
      return frac(a.n * b.d + b.n * a.d, a.d * b.d);
    case '-':
      return frac(a.n * b.d - b.n * a.d, a.d * b.d);
    case '*':
      return frac(a.n * b.n, a.d * b.d);
    case '/':
      return b.n === 0 ? null : frac(a.n * b.d, a.d * b.n);
  }
}

/** a op b with the fewest parentheses that keep the meaning under usual precedence and left associativity. */
function combine(op: Op, a: Term, b: Term): Term | null {
  const v = apply(op, a.v, b.v);
  if (v === null) return null;
  const p = PREC[op];
  const left = a.prec < p ? `(${a.s})` : a.s;
  const right = b.prec < p || (b.prec === p && (op === '-' || op === '/')) ? `(${b.s})` : b.s;
  const odd = a.odd + b.odd + (v.d !== 1 || v.n < 0 ? 1 : 0);
  return { v, s: `${left}${op}${right}`, prec: p, odd };
}

/** Every way to reduce `terms` to one: pick a pair (both orders for - and /), combine, recurse. */
function reduceAll(terms: Term[], out: Term[]): void {
  if (terms.length === 1) {
    out.push(terms[0]);
    return;
  }
  for (let i = 0; i < terms.length; i++) {
    for (let j = 0; j < terms.length; j++) {
      if (i === j) continue;
      const rest = terms.filter((_, k) => k !== i && k !== j);
      for (const op of OPS) {
        if ((op === '+' || op === '*') && j < i) continue; // commutative: one order suffices
        const t = combine(op, terms[i], terms[j]);
        if (t) reduceAll([...rest, t], out);
      }
    }
  }
}

/** All distinct expressions (as strings) using each number once that equal `target` exactly; small inputs only. */
export function solveCountdownAll(numbers: number[], target: number): string[] {
  return [...new Set(solutionTerms(numbers, target).map((t) => t.s))];
}

function solutionTerms(numbers: number[], target: number): Term[] {
  if (numbers.length === 0) return [];
  const all: Term[] = [];
  reduceAll(numbers.map((n) => ({ v: frac(n, 1), s: String(n), prec: 3, odd: n < 0 ? 1 : 0 })), all);
  const t = frac(target, 1);
  return all.filter((x) => x.v.n === t.n && x.v.d === t.d);
}

/**
 * One expression reaching `target`, or null. Among all solutions it picks the simplest: fewest negative or fractional
 * intermediate values, then the shortest text, then the lexicographically smallest (deterministic).
 */
export function solveCountdown(numbers: number[], target: number): string | null {
  const sols = solutionTerms(numbers, target);
  if (sols.length === 0) return null;
  sols.sort((a, b) => a.odd - b.odd || a.s.length - b.s.length || (a.s < b.s ? -1 : a.s > b.s ? 1 : 0));
  return sols[0].s;
}

/**
 * Fast existence check in floating point (no expression text), used to reject draws before the exact solver runs.
 * Tolerance 1e-6 is far below the 1e-4 gap between an integer target and any other reachable value (see top).
 */
export function canReach(numbers: number[], target: number): boolean {
  return reach([...numbers], numbers.length, target);
}

/** In-place search over vals[0..n): combine a pair into slot i, move the last value into slot j, recurse, restore. */
function reach(vals: number[], n: number, target: number): boolean {
  if (n === 1) return Math.abs(vals[0] - target) < 1e-6;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const a = vals[i];
      const b = vals[j];
      vals[j] = vals[n - 1];
      for (let k = 0; k < 6; k++) {
        if ((k === 4 && b === 0) || (k === 5 && a === 0)) continue;
        vals[i] = k === 0 ? a + b : k === 1 ? a - b : k === 2 ? b - a : k === 3 ? a * b : k === 4 ? a / b : b / a;
        if (reach(vals, n - 1, target)) {
          vals[i] = a;
          vals[j] = b;
          return true;
        }
      }
      vals[i] = a;
      vals[j] = b;
    }
  }
  return false;
}

/** A number in a fixed 3-character field: 0-999 zero-padded ("023"), -99..-1 as "-07"; the trace's only format. */
export function field3(x: number): string {
  if (!Number.isInteger(x) || x < -99 || x > 999) throw new ConfigError(`countdown field: ${x} does not fit 3 characters`);
  return x < 0 ? `-${String(-x).padStart(2, '0')}` : String(x).padStart(3, '0');
}

/**
 * A worked computation a small model can follow, for the puzzles whose solution needs only + and - (229 of the 256
 * items of d1's cd3 test file; the other 27 need * or /). If target = (sum of the numbers with +) - (sum of those with
 * -), then with S the sum of all numbers, the negated ones sum to N = (S - target) / 2 and the others to P = S - N.
 * With 3 numbers and a positive target, either N = 0 (all added), N is one of the numbers (that one subtracted), or
 * P is one of the numbers (that one first, the other two subtracted). The trace writes these five binary operations
 * in the prompt's order, every number in a 3-character field (field3), e.g. 30,100,93 -> 23:
 *
 *   trace "030+100=130,130+093=223,223-023=200,200/2=100,223-100=123,"   expression " 30+ 93-100"
 *
 * Fixed widths put every digit at a fixed position of the row (the prompt is fixed-width too: templates.ts): the
 * model has no absolute position (RoPE, no BOS), so copying a number from a variable offset is a search it learned
 * too slowly, and with fixed fields every copy and every carry is at a constant distance, as in Sudoku. The
 * expression pads each number with spaces to 3 characters (d1's reward allows spaces; Python evaluates " 30+ 93-100").
 * When S - target is odd or negative N and P are "xxx" and `expression` is null (no signed sum): the generator then
 * keeps the exact solver's expression after the same trace.
 */
export function signedSumTrace(numbers: number[], target: number): { trace: string; expression: string | null } {
  const steps: string[] = [];
  let sum = numbers[0];
  for (const x of numbers.slice(1)) {
    steps.push(`${field3(sum)}+${field3(x)}=${field3(sum + x)}`);
    sum += x;
  }
  const d = sum - target;
  const signed = d >= 0 && d % 2 === 0;
  const neg = d / 2;
  const pos = sum - neg;
  steps.push(`${field3(sum)}-${field3(target)}=${field3(d)}`, `${field3(d)}/2=${signed ? field3(neg) : 'xxx'}`, `${field3(sum)}-${signed ? field3(neg) : 'xxx'}=${signed ? field3(pos) : 'xxx'}`);
  const trace = steps.join(',') + ',';
  const signs = signPattern(numbers, target);
  if (signs === null) return { trace, expression: null };
  // The added numbers first, in the prompt's order, then the subtracted ones: " 30+ 93-100".
  const pad = (x: number) => String(x).padStart(3, ' ');
  const added = numbers.filter((_, i) => signs[i] === '+').map(pad).join('+');
  const subtracted = numbers.filter((_, i) => signs[i] === '-').map((x) => `-${pad(x)}`).join('');
  return { trace, expression: added + subtracted };
}

/**
 * The sign of each number (in the prompt's order) in the signed sum that signedSumTrace derives, or null when there
 * is none: with S the sum and N = (S - target) / 2 the sum of the subtracted numbers, N = 0 adds all, N = a number
 * subtracts that one (its first occurrence), S - N = a number adds only that one.
 */
function signPattern(numbers: number[], target: number): ('+' | '-')[] | null {
  const sum = numbers.reduce((a, b) => a + b, 0);
  const d = sum - target;
  if (d < 0 || d % 2 !== 0) return null;
  const neg = d / 2;
  if (neg === 0) return numbers.map(() => '+');
  if (numbers.includes(neg)) return numbers.map((_, i) => (i === numbers.indexOf(neg) ? '-' : '+'));
  if (numbers.includes(sum - neg)) return numbers.map((_, i) => (i === numbers.indexOf(sum - neg) ? '+' : '-'));
  return null;
}

/**
 * The signed sum that reaches `target`, every number in the prompt's order behind its own sign, in a 4-character
 * field (sign + the number space-padded to 3): 30,100,93 -> 23 gives "+ 30-100+ 93" (d1's reward accepts the
 * spaces and the leading sign; Python evaluates it to 23). null when no signed sum reaches the target (the puzzle
 * needs * or /: 27 of the 256 test puzzles). With every number at a fixed place, the answer is three sign choices and
 * three aligned copies: the model decides the signs without writing any intermediate result (data.countdown_signs).
 * Of the sign patterns that work, the one signedSumTrace derives is used (N = (S - target) / 2 negated).
 */
export function signedSumSigns(numbers: number[], target: number): string | null {
  const signs = signPattern(numbers, target);
  return signs === null ? null : numbers.map((x, i) => `${signs[i]}${String(x).padStart(3, ' ')}`).join('');
}

/** Order-insensitive key of a puzzle: "30,93,100|23" (numbers sorted). */
export function countdownKey(numbers: number[], target: number): string {
  return `${[...numbers].sort((a, b) => a - b).join(',')}|${target}`;
}

/** One solvable puzzle drawn as described at the top of this file. */
export function generateCountdown(rng: Rng, opts: CountdownOptions = {}): CountdownItem {
  const o = { ...DEFAULTS, ...opts };
  if (o.minNumber > o.maxNumber || o.minTarget > o.maxTarget || o.numNumbers < 2) {
    throw new ConfigError(`generateCountdown: bad options ${JSON.stringify(o)}`);
  }
  // About 4% of uniform (numbers, target) draws are solvable with the defaults.
  for (let attempt = 0; attempt < 1_000_000; attempt++) {
    const numbers = Array.from({ length: o.numNumbers }, () => o.minNumber + rng.int(o.maxNumber - o.minNumber + 1));
    const target = o.minTarget + rng.int(o.maxTarget - o.minTarget + 1);
    if (o.signs) {
      // A signed sum is a solution, so this keeps the same draws as the solver's check would, without running it.
      const signed = signedSumSigns(numbers, target);
      if (signed === null) continue;
      return { numbers, target, solution: signed };
    }
    if (!canReach(numbers, target)) continue;
    const solution = solveCountdown(numbers, target);
    if (solution === null) continue;
    if (!o.trace) return { numbers, target, solution };
    const { trace, expression } = signedSumTrace(numbers, target);
    return { numbers, target, solution: expression ?? solution, trace };
  }
  throw new ConfigError(`generateCountdown: no solvable puzzle in 1000000 draws with ${JSON.stringify(o)}`);
}

/**
 * `n` distinct puzzles, deterministic in `seed`. `exclude` holds puzzles that must not appear, as
 * "n1,n2,n3|target" (the test file's `${input}|${output}`); matching ignores the order of the numbers.
 */
export function generateCountdownSet(seed: number, n: number, opts: CountdownOptions & { exclude?: Set<string> } = {}): CountdownItem[] {
  const banned = new Set<string>();
  for (const key of opts.exclude ?? []) {
    const [nums, target] = key.split('|');
    banned.add(countdownKey(nums.split(',').map(Number), Number(target)));
  }
  const rng = new Rng(seed, 'countdown');
  const out: CountdownItem[] = [];
  let misses = 0;
  while (out.length < n) {
    const item = generateCountdown(rng, opts);
    const key = countdownKey(item.numbers, item.target);
    if (banned.has(key)) {
      if (++misses > 100_000) throw new ConfigError(`generateCountdownSet: cannot find ${n} distinct puzzles (got ${out.length})`);
      continue;
    }
    misses = 0;
    banned.add(key);
    out.push(item);
  }
  return out;
}
