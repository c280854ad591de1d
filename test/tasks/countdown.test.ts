import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/rng.ts';
import { readJsonl } from '../../src/data/index.ts';
import { canReach, countdownKey, generateCountdown, field3, generateCountdownSet, signedSumSigns, signedSumTrace, solveCountdown, solveCountdownAll } from '../../src/tasks/countdown.ts';
import { DATA_DIR, dataPath } from '../paths.ts';
import { generateRows } from '../../src/tasks/generate.ts';
import { formatExample, formatPrompt } from '../../src/tokenizer/templates.ts';

const TEST_FILE = dataPath('countdown/countdown_cd3_test.jsonl');

/** d1's reward check: only digits, operators, parentheses, spaces; the numbers are the given multiset; |value - target| < 1e-5. */
function d1Accepts(expr: string, numbers: number[], target: number): boolean {
  if (!/^[\d+\-*/().\s]+$/.test(expr)) return false;
  const used = (expr.match(/\d+/g) ?? []).map(Number).sort((a, b) => a - b);
  if (used.join(',') !== [...numbers].sort((a, b) => a - b).join(',')) return false;
  const value = Function(`return (${expr});`)() as number;
  return Math.abs(value - target) < 1e-5;
}

/** Independent brute force: every permutation, operator pair and both tree shapes, evaluated in floating point. */
function bruteValues(nums: number[]): number[] {
  const perms = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
  const values: number[] = [];
  for (const [i, j, k] of perms) {
    for (const o1 of '+-*/') {
      for (const o2 of '+-*/') {
        for (const e of [`(${nums[i]}${o1}${nums[j]})${o2}${nums[k]}`, `${nums[i]}${o1}(${nums[j]}${o2}${nums[k]})`]) {
          const v = Function(`return (${e});`)() as number;
          if (Number.isFinite(v)) values.push(v);
        }
      }
    }
  }
  return values;
}

describe('solveCountdown', () => {
  it('finds all solutions of small cases (checked by hand)', () => {
    // 9 from {1,2,3}: only (1+2)*3 up to commutativity.
    expect(solveCountdownAll([1, 2, 3], 9)).toEqual(['3*(1+2)']);
    // 7 from {1,2,3}: only 1+2*3 up to commutativity (2*3+1 is the same tree; no other tree reaches 7).
    expect(solveCountdownAll([1, 2, 3], 7)).toEqual(['1+2*3']);
    // 24 from {2,3,4}: 2*3*4 in its tree shapes (2*3)*4, (2*4)*3, (3*4)*2 -> printed without parentheses.
    expect(new Set(solveCountdownAll([2, 3, 4], 24))).toEqual(new Set(['4*2*3', '3*2*4', '2*3*4']));
    expect(solveCountdownAll([1, 1, 1], 50)).toEqual([]);
    expect(solveCountdown([1, 1, 1], 50)).toBeNull();
  });

  it('every solution satisfies d1 reward check', () => {
    for (const [nums, t] of [[[2, 3, 4], 5], [[30, 100, 93], 23], [[6, 4, 3], 8], [[5, 5, 5], 2]] as [number[], number][]) {
      const sols = solveCountdownAll(nums, t);
      expect(sols.length).toBeGreaterThan(0);
      for (const s of sols) expect(d1Accepts(s, nums, t), s).toBe(true);
    }
  });

  it('agrees with an independent brute force on solvability for every target in -20..250', () => {
    for (const nums of [[1, 2, 3], [30, 100, 93], [5, 5, 5], [7, 1, 1], [99, 2, 50], [4, 6, 9]]) {
      const values = bruteValues(nums);
      for (let t = -20; t <= 250; t++) {
        const brute = values.some((v) => Math.abs(v - t) < 1e-5);
        const sol = solveCountdown(nums, t);
        expect(sol !== null, `${nums} -> ${t}`).toBe(brute);
        expect(canReach(nums, t)).toBe(brute);
        if (sol) expect(d1Accepts(sol, nums, t)).toBe(true);
      }
    }
  });

  it("solves every row of d1's cd3 test file", () => {
    const rows = readJsonl(TEST_FILE);
    expect(rows.length).toBe(256);
    for (const r of rows) {
      const nums = String(r.input).split(',').map(Number);
      const t = Number(r.output);
      const sol = solveCountdown(nums, t);
      expect(sol, String(r.input)).not.toBeNull();
      expect(d1Accepts(sol!, nums, t)).toBe(true);
    }
  });
});

describe('generateCountdown', () => {
  it('draws 3 numbers and a target in 1..100 with a valid solution', () => {
    const rng = new Rng(5, 'test');
    for (let i = 0; i < 200; i++) {
      const { numbers, target, solution } = generateCountdown(rng);
      expect(numbers.length).toBe(3);
      for (const n of [...numbers, target]) {
        expect(Number.isInteger(n) && n >= 1 && n <= 100).toBe(true);
      }
      expect(d1Accepts(solution, numbers, target)).toBe(true);
    }
  });

  it('sets are deterministic by seed and duplicate-free (numbers order ignored)', () => {
    const a = generateCountdownSet(1, 300);
    expect(generateCountdownSet(1, 300)).toEqual(a);
    expect(generateCountdownSet(2, 300)).not.toEqual(a);
    expect(new Set(a.map((x) => countdownKey(x.numbers, x.target))).size).toBe(300);
  });

  it('excludes puzzles given as "input|output", in any number order, including the real test file', () => {
    const base = generateCountdownSet(4, 20);
    const excluded = base.slice(0, 10).map((x) => `${[...x.numbers].reverse().join(',')}|${x.target}`);
    const b = generateCountdownSet(4, 20, { exclude: new Set(excluded) });
    expect(b.slice(0, 10)).toEqual(base.slice(10));
    const keys = new Set(base.slice(0, 10).map((x) => countdownKey(x.numbers, x.target)));
    expect(b.some((x) => keys.has(countdownKey(x.numbers, x.target)))).toBe(false);

    const test = readJsonl(TEST_FILE).map((r) => `${r.input}|${r.output}`);
    const testKeys = new Set(test.map((k) => countdownKey(k.split('|')[0].split(',').map(Number), Number(k.split('|')[1]))));
    const big = generateCountdownSet(9, 2000, { exclude: new Set(test) });
    expect(big.some((x) => testKeys.has(countdownKey(x.numbers, x.target)))).toBe(false);
  });
});

describe('signedSumTrace (data.countdown_trace)', () => {
  it('writes the five operations of the worked example in 3-character fields, by hand', () => {
    // S = 223, N = (223 - 23) / 2 = 100 is a number -> it is the one subtracted.
    expect(signedSumTrace([30, 100, 93], 23)).toEqual({ trace: '030+100=130,130+093=223,223-023=200,200/2=100,223-100=123,', expression: ' 30+ 93-100' });
    // N = 0: every number added.
    expect(signedSumTrace([1, 2, 3], 6)).toEqual({ trace: '001+002=003,003+003=006,006-006=000,000/2=000,006-000=006,', expression: '  1+  2+  3' });
    // 8, 15, 35 -> 12: S = 58, N = 23 is no number, P = 58 - 23 = 35 is: 35 first, the others subtracted.
    expect(signedSumTrace([8, 15, 35], 12)).toEqual({ trace: '008+015=023,023+035=058,058-012=046,046/2=023,058-023=035,', expression: ' 35-  8- 15' });
    // Odd difference: no signed sum.
    expect(signedSumTrace([2, 3, 5], 5)).toEqual({ trace: '002+003=005,005+005=010,010-005=005,005/2=xxx,010-xxx=xxx,', expression: null });
    // Target above the sum: a negative difference, no signed sum.
    expect(signedSumTrace([2, 3, 5], 30)).toEqual({ trace: '002+003=005,005+005=010,010-030=-20,-20/2=xxx,010-xxx=xxx,', expression: null });
  });

  it('field3: fixed 3-character numbers, and a clear error outside them', () => {
    expect([0, 7, 42, 300, -5, -99].map(field3)).toEqual(['000', '007', '042', '300', '-05', '-99']);
    expect(() => field3(1000)).toThrow(/1000/);
    expect(() => field3(2.5)).toThrow(/2.5/);
  });

  it('finds a +/- expression exactly when one exists, and it is correct (d1 test file)', () => {
    const rows = readJsonl(TEST_FILE);
    let found = 0;
    for (const r of rows) {
      const nums = String(r.input).split(',').map(Number);
      const target = Number(r.output);
      const { expression } = signedSumTrace(nums, target);
      const signedExists = solveCountdownAll(nums, target).some((e) => /^[\d+-]+$/.test(e));
      expect(expression !== null).toBe(signedExists);
      if (expression !== null) {
        expect(d1Accepts(expression, nums, target)).toBe(true);
        found++;
      }
    }
    expect(found).toBe(229); // of 256; the other 27 need * or /
  });

  it('trace: true keeps the same puzzles, each with a trace, and a +/- solution whenever the trace has one', () => {
    const plain = generateCountdownSet(3, 200);
    const traced = generateCountdownSet(3, 200, { trace: true });
    expect(traced.map((x) => countdownKey(x.numbers, x.target))).toEqual(plain.map((x) => countdownKey(x.numbers, x.target)));
    for (const x of traced) {
      const { trace, expression } = signedSumTrace(x.numbers, x.target);
      expect(x.trace).toBe(trace);
      expect(x.solution).toBe(expression ?? solveCountdown(x.numbers, x.target));
      expect(d1Accepts(x.solution, x.numbers, x.target)).toBe(true);
    }
    expect(plain.every((x) => x.trace === undefined)).toBe(true);
  });
});

describe('data.countdown_ops: the trace line by line', () => {
  it('5 rows per puzzle, in trace order, each a correct operation or an xxx line', () => {
    const rows = generateRows('countdown', 3, 500, DATA_DIR, { countdownOps: true });
    expect(rows).toHaveLength(500);
    const puzzles = generateCountdownSet(3, 100, { trace: true, exclude: new Set(readJsonl(TEST_FILE).map((r) => `${r.input}|${r.output}`)) });
    expect(rows.slice(0, 5).map((r) => r.op).join(',') + ',').toBe(puzzles[0].trace);
    for (const row of rows) {
      const { prompt, answer } = formatExample('countdown', row);
      expect(formatPrompt('countdown', row)).toBe(prompt);
      expect(prompt + answer).toBe(row.op);
      const m = /^(-?\d+)([+\-/])(-?\d+|x+)=$/.exec(prompt);
      expect(m).not.toBeNull();
      if (m![3].startsWith('x') || answer === 'xxx') continue;
      const [a, b] = [Number(m![1]), Number(m![3])];
      const value = m![2] === '+' ? a + b : m![2] === '-' ? a - b : a / b;
      expect(answer).toBe(field3(value));
    }
  });

  it('refuses another task, and both countdown formats at once, naming the keys', () => {
    expect(() => generateRows('sudoku', 0, 5, DATA_DIR, { countdownOps: true })).toThrow(/data.countdown_ops/);
    expect(() => generateRows('countdown', 0, 5, DATA_DIR, { countdownOps: true, countdownTrace: true })).toThrow(/data.countdown_ops and data.countdown_trace/);
  });
});

describe('data.countdown_signs: the numbers in prompt order, each behind its sign', () => {
  it('writes sign + 3-character field per number, by hand', () => {
    expect(signedSumSigns([30, 100, 93], 23)).toBe('+ 30-100+ 93'); // 30 - 100 + 93 = 23 (N = 100)
    expect(signedSumSigns([5, 7, 9], 21)).toBe('+  5+  7+  9'); // N = 0
    expect(signedSumSigns([50, 20, 10], 20)).toBe('+ 50- 20- 10'); // N = 30 is no number, S - N = 50 is
    expect(signedSumSigns([20, 50, 10], 20)).toBe('- 20+ 50- 10'); // the positive one need not come first
    expect(signedSumSigns([4, 6, 8], 48)).toBeNull(); // 4 * 6 + ... : S - target < 0
    expect(signedSumSigns([4, 6, 8], 17)).toBeNull(); // S - target odd
  });

  it("decides exactly the test file's 229 signed-sum puzzles, each accepted by d1's check, every sign at a fixed place", () => {
    let found = 0;
    for (const r of readJsonl(TEST_FILE)) {
      const nums = String(r.input).split(',').map(Number);
      const target = Number(r.output);
      const signs = signedSumSigns(nums, target);
      expect(signs !== null).toBe(signedSumTrace(nums, target).expression !== null);
      if (signs === null) continue;
      found++;
      expect(signs).toMatch(/^([+-][ \d]{2}\d){3}$/);
      expect(d1Accepts(signs, nums, target)).toBe(true);
      expect((signs.match(/\d+/g) ?? []).map(Number)).toEqual(nums); // the prompt's order
    }
    expect(found).toBe(229);
  });

  it('signs: true keeps only signed-sum puzzles, answered as <answer>signs</answer>; refuses other formats by key', () => {
    const rows = generateRows('countdown', 4, 300, DATA_DIR, { countdownSigns: true });
    expect(rows).toHaveLength(300);
    for (const row of rows) {
      const nums = row.numbers as number[];
      const { answer } = formatExample('countdown', row);
      expect(answer).toBe(`<answer>${signedSumSigns(nums, row.target as number)}</answer>`);
      expect(d1Accepts(row.solution as string, nums, row.target as number)).toBe(true);
    }
    expect(() => generateRows('countdown', 0, 5, DATA_DIR, { countdownSigns: true, countdownTrace: true })).toThrow(/data.countdown_signs/);
    expect(() => generateRows('sudoku', 0, 5, DATA_DIR, { countdownSigns: true })).toThrow(/data.countdown_signs/);
  });
});
