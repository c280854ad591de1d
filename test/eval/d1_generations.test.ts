/**
 * Acceptance: d1's released LLaDA-8B-Instruct evaluation generations (test/fixtures/d1_eval_generations, no network),
 * re-scored with the project's d1 parsers, give d1's own per-setup accuracies (eval/parse_and_get_acc.py, re-run with
 * d1's Python code): correct / processed, and for Sudoku correct cells / empty cells.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { d1CountdownCorrect, d1CountdownEquation, d1Gsm8kCorrect, d1MathAnswer, d1MathCorrect, d1ParseGsm8k, d1SudokuCells, d1SudokuReward } from '../../src/parsing/parsers_d1.ts';
import { sudokuCellCredit } from '../../src/parsing/sudoku_score.ts';
import { REPO_ROOT } from '../paths.ts';

type Row = { completion: string; gold?: unknown; puzzle?: string; numbers?: number[]; target?: number };
const read = (name: string): Row[] =>
  zlib.gunzipSync(fs.readFileSync(path.join(REPO_ROOT, 'test/fixtures/d1_eval_generations', `${name}.jsonl.gz`))).toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as Row);
const pct = (k: number, n: number) => Number(((100 * k) / n).toFixed(2));

// d1's figures (README of the fixture); rows per setup.
const D1 = {
  gsm8k: { n: 1130, acc: { 128: 69.29, 256: 76.37, 512: 78.14 } },
  math500: { n: 500, acc: { 128: 26.0, 256: 32.4, 512: 36.2 } },
  countdown: { n: 256, acc: { 128: 20.7, 256: 19.53, 512: 16.02 } },
  sudoku: { n: 256, acc: { 128: 11.72, 256: 6.69, 512: 5.47 } },
};
const LENGTHS = [128, 256, 512] as const;

describe("d1's released generations, re-scored with parser d1", () => {
  for (const len of LENGTHS) {
    it(`gsm8k ${len}: ${D1.gsm8k.acc[len]}%`, () => {
      const rows = read(`gsm8k_${len}`);
      expect(rows).toHaveLength(D1.gsm8k.n);
      const correct = rows.filter((r) => d1Gsm8kCorrect(d1ParseGsm8k(r.completion), r.gold as number | null)).length;
      expect(pct(correct, rows.length)).toBe(D1.gsm8k.acc[len]);
    });
    it(`math500 ${len}: ${D1.math500.acc[len]}%`, () => {
      const rows = read(`math500_${len}`);
      expect(rows).toHaveLength(D1.math500.n);
      const correct = rows.filter((r) => d1MathCorrect(d1MathAnswer(r.completion), String(r.gold))).length;
      expect(pct(correct, rows.length)).toBe(D1.math500.acc[len]);
    });
    it(`countdown ${len}: ${D1.countdown.acc[len]}%`, () => {
      const rows = read(`countdown_${len}`);
      expect(rows).toHaveLength(D1.countdown.n);
      const correct = rows.filter((r) => d1CountdownCorrect(d1CountdownEquation(r.completion), r.numbers!, r.target!).correct).length;
      expect(pct(correct, rows.length)).toBe(D1.countdown.acc[len]);
    });
    it(`sudoku ${len}: ${D1.sudoku.acc[len]}% of the empty cells`, () => {
      const rows = read(`sudoku_${len}`);
      expect(rows).toHaveLength(D1.sudoku.n);
      let correct = 0;
      let empty = 0;
      for (const r of rows) {
        const c = d1SudokuCells(r.completion, r.puzzle!, String(r.gold));
        correct += c.correct;
        empty += c.empty;
      }
      expect(pct(correct, empty)).toBe(D1.sudoku.acc[len]);
    });
  }

  it("the lenient Sudoku reward pays partial credit on 76 of the 768 completions where d1's reward pays 0", () => {
    let lenientOnly = 0;
    for (const len of LENGTHS) {
      for (const r of read(`sudoku_${len}`)) {
        const d1 = d1SudokuReward(r.completion, r.puzzle!, String(r.gold)).score;
        if (d1 === 0 && sudokuCellCredit(r.completion, r.puzzle!, String(r.gold)).accuracy > 0) lenientOnly++;
      }
    }
    expect(lenientOnly).toBe(76);
  });
});
