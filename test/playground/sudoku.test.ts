import { describe, expect, it } from 'vitest';
import { isSolution, SUDOKU_PROMPT } from '../../src/playground/sudoku.ts';

describe('playground Sudoku checks', () => {
  const puzzle = '3102200002100320'; // d1's first test puzzle and its solution
  const solution = '3142243142131324';

  it('accepts the solution of a puzzle and refuses a broken row, column, box, clue or length', () => {
    expect(isSolution(puzzle, solution)).toBe(true);
    expect(isSolution(puzzle, `${solution.slice(0, 15)}1`)).toBe(false); // last row 1,3,2,1: a repeat
    // Rows 2 and 3 swapped is still a valid grid (they lie in different bands); two cells of row 1 swapped is not.
    expect(isSolution('0'.repeat(16), `${solution.slice(0, 4)}${solution.slice(8, 12)}${solution.slice(4, 8)}${solution.slice(12)}`)).toBe(true);
    expect(isSolution('0'.repeat(16), `1342${solution.slice(4)}`)).toBe(false); // column 1 then holds 1 twice
    expect(isSolution('4'.padEnd(16, '0'), solution)).toBe(false); // contradicts the clue 4 in cell 1
    expect(isSolution(puzzle, solution.slice(0, 15))).toBe(false);
  });

  it('recognises the prompt template {16 cells}=', () => {
    expect(SUDOKU_PROMPT.test(`${puzzle}=`)).toBe(true);
    expect(SUDOKU_PROMPT.test(puzzle)).toBe(false);
    expect(SUDOKU_PROMPT.test('310220000210032=')).toBe(false);
  });
});
