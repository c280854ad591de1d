import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { Rng } from '../../src/rng.ts';
import { readCsv } from '../../src/data/index.ts';
import { allSudokuGrids, generateSudoku, generateSudokuSet, isValidSolution, solveAll } from '../../src/tasks/sudoku.ts';
import { dataPath } from '../paths.ts';

const TEST_FILE = dataPath('sudoku/4x4_test_sudoku.csv');
const blanks = (p: string): number => [...p].filter((c) => c === '0').length;

describe('solveAll / isValidSolution', () => {
  it('there are exactly 288 valid 4x4 grids, all distinct and valid', () => {
    const grids = allSudokuGrids();
    expect(grids.length).toBe(288);
    expect(new Set(grids).size).toBe(288);
    expect(grids.every((g) => isValidSolution(g))).toBe(true);
  });

  it('finds both solutions of a swappable rectangle, and respects limit', () => {
    // 12|34      blanking the 1s and 2s of rows 0 and 2 in columns 0-1 leaves two fillings: 12/21 or 21/12
    // 34|12
    // 21|43
    // 43|21
    const grid = '1234341221434321';
    const puzzle = '0034341200434321';
    expect(solveAll(grid)).toEqual([grid]);
    expect(solveAll(puzzle)).toEqual(['1234341221434321', '2134341212434321']);
    expect(solveAll(puzzle, 1)).toEqual(['1234341221434321']);
    expect(solveAll('0'.repeat(16), 5).length).toBe(5);
    expect(solveAll('1100000000000000')).toEqual([]); // conflicting clues
  });

  it('checks rows, columns, boxes and agreement with the clues', () => {
    expect(isValidSolution('1234341221434321')).toBe(true);
    expect(isValidSolution('1234341221434321', '0034341200434321')).toBe(true);
    expect(isValidSolution('2134341212434321', '1034341200434321')).toBe(false); // clue 1 at cell 0
    expect(isValidSolution('1234123412341234')).toBe(false); // columns repeat
    expect(isValidSolution('1234214334124321')).toBe(false); // rows and columns fine, boxes not
    expect(isValidSolution('123434122143432')).toBe(false);
  });

  it("solves every puzzle of d1's test file; 376 of the 500 have a unique solution", () => {
    const rows = readCsv(TEST_FILE);
    let unique = 0;
    for (const r of rows) {
      const sols = solveAll(r.Puzzle);
      expect(sols).toContain(r.Solution);
      expect(isValidSolution(r.Solution, r.Puzzle)).toBe(true);
      expect(blanks(r.Puzzle)).toBe(8);
      if (sols.length === 1) unique++;
    }
    expect(unique).toBe(376);
  });
});

describe('generateSudoku', () => {
  it('gives puzzles with a unique solution, the stated blanks, consistent with the solution', () => {
    const rng = new Rng(1, 'test');
    const seen = new Set<number>();
    for (let i = 0; i < 300; i++) {
      const { puzzle, solution } = generateSudoku(rng);
      expect(solveAll(puzzle, 2)).toEqual([solution]);
      expect(isValidSolution(solution, puzzle)).toBe(true);
      const b = blanks(puzzle);
      expect(b).toBeGreaterThanOrEqual(6);
      expect(b).toBeLessThanOrEqual(10);
      seen.add(b);
    }
    expect([...seen].sort()).toEqual([10, 6, 7, 8, 9]);
    const hard = generateSudoku(rng, { minBlanks: 12, maxBlanks: 12 });
    expect(blanks(hard.puzzle)).toBe(12);
    expect(solveAll(hard.puzzle, 2)).toEqual([hard.solution]);
    expect(() => generateSudoku(rng, { minBlanks: 5, maxBlanks: 13 })).toThrow(ConfigError);
  });

  it('sets are deterministic by seed, duplicate-free, and honour blanks', () => {
    const a = generateSudokuSet(7, 200, { blanks: 8 });
    expect(generateSudokuSet(7, 200, { blanks: 8 })).toEqual(a);
    expect(generateSudokuSet(8, 200, { blanks: 8 })).not.toEqual(a);
    expect(new Set(a.map((x) => x.puzzle)).size).toBe(200);
    expect(a.every((x) => blanks(x.puzzle) === 8)).toBe(true);
  });

  it('never returns an excluded puzzle', () => {
    const base = generateSudokuSet(3, 100, { blanks: 8 });
    const exclude = new Set(base.slice(0, 50).map((x) => x.puzzle));
    const b = generateSudokuSet(3, 100, { blanks: 8, exclude });
    expect(b.length).toBe(100);
    expect(b.some((x) => exclude.has(x.puzzle))).toBe(false);
    // the same seed, so the non-excluded half of `base` comes back first, in order
    expect(b.slice(0, 50)).toEqual(base.slice(50));

    const testPuzzles = new Set(readCsv(TEST_FILE).map((r) => r.Puzzle));
    const big = generateSudokuSet(11, 3000, { blanks: 8, exclude: testPuzzles });
    expect(big.some((x) => testPuzzles.has(x.puzzle))).toBe(false);
  });
});
