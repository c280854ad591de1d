/**
 * 4x4 Sudoku (digits 1-4; rows, columns and 2x2 boxes each hold 1-4 once), as in d1's Sudoku task.
 * Grids are 16-character strings read row-major, '0' = empty cell (the format of 4x4_test_sudoku.csv).
 *
 * Generation: a solution grid drawn uniformly from all 288 valid grids, a blank count k drawn uniformly from
 * [min_blanks, max_blanks], then cells blanked in random order, each kept blank only if the puzzle still has exactly
 * one solution (checked by the solver), until k cells are blank (else start over). Default k in 6..10: d1's test file
 * has exactly 8 blanks per puzzle, and a small spread around 8 keeps the training distribution near it without
 * making every puzzle the same difficulty. A 4x4 puzzle can have a unique solution with up to 12 blanks.
 * Only puzzles are kept apart from the test set: with 288 grids, every test solution also appears in training.
 */
import { ConfigError, DataError } from '../errors.ts';
import { Rng } from '../rng.ts';

export interface SudokuItem {
  puzzle: string;
  solution: string;
}

export interface SudokuOptions {
  minBlanks?: number;
  maxBlanks?: number;
}

const SIZE = 4;
const CELLS = SIZE * SIZE;
/** A uniquely solvable 4x4 puzzle has at least 4 clues. */
export const MAX_UNIQUE_BLANKS = 12;

/** Indices of the cells sharing a row, column or box with each cell. */
const PEERS: number[][] = Array.from({ length: CELLS }, (_, c) => {
  const r = Math.floor(c / SIZE);
  const col = c % SIZE;
  const out: number[] = [];
  for (let o = 0; o < CELLS; o++) {
    if (o === c) continue;
    const or = Math.floor(o / SIZE);
    const oc = o % SIZE;
    const sameBox = Math.floor(or / 2) === Math.floor(r / 2) && Math.floor(oc / 2) === Math.floor(col / 2);
    if (or === r || oc === col || sameBox) out.push(o);
  }
  return out;
});

function parseGrid(grid: string, what: string): number[] {
  if (!/^[0-4]{16}$/.test(grid)) throw new DataError(`sudoku: ${what} must be 16 characters 0-4, got ${JSON.stringify(grid)}`);
  return [...grid].map(Number);
}

/** Solutions of `puzzle`, in lexicographic order, stopping once `limit` are found (backtracking). Conflicting clues: []. */
export function solveAll(puzzle: string, limit = Infinity): string[] {
  const cells = parseGrid(puzzle, 'puzzle');
  for (let c = 0; c < CELLS; c++) {
    if (cells[c] !== 0 && PEERS[c].some((p) => cells[p] === cells[c])) return [];
  }
  const out: string[] = [];
  const search = (from: number): void => {
    let c = from;
    while (c < CELLS && cells[c] !== 0) c++;
    if (c === CELLS) {
      out.push(cells.join(''));
      return;
    }
    for (let d = 1; d <= SIZE && out.length < limit; d++) {
      if (PEERS[c].some((p) => cells[p] === d)) continue;
      cells[c] = d;
      search(c + 1);
      cells[c] = 0;
    }
  };
  if (limit > 0) search(0);
  return out;
}

/** True if `solution` is a complete valid grid and, when `puzzle` is given, agrees with its clues. */
export function isValidSolution(solution: string, puzzle?: string): boolean {
  if (!/^[1-4]{16}$/.test(solution)) return false;
  const cells = [...solution].map(Number);
  if (cells.some((d, c) => PEERS[c].some((p) => cells[p] === d))) return false;
  if (puzzle === undefined) return true;
  if (!/^[0-4]{16}$/.test(puzzle)) return false;
  return [...puzzle].every((ch, c) => ch === '0' || ch === solution[c]);
}

let gridsCache: string[] | null = null;
/** All 288 valid 4x4 grids, sorted. */
export function allSudokuGrids(): string[] {
  gridsCache ??= solveAll('0'.repeat(CELLS));
  return gridsCache;
}

/** One puzzle with a unique solution and a blank count in [minBlanks, maxBlanks] (default 6..10). */
export function generateSudoku(rng: Rng, opts: SudokuOptions = {}): SudokuItem {
  const minBlanks = opts.minBlanks ?? 6;
  const maxBlanks = opts.maxBlanks ?? 10;
  if (!Number.isInteger(minBlanks) || !Number.isInteger(maxBlanks) || minBlanks < 1 || minBlanks > maxBlanks || maxBlanks > MAX_UNIQUE_BLANKS) {
    throw new ConfigError(`sudoku blanks must be integers with 1 <= min (${minBlanks}) <= max (${maxBlanks}) <= ${MAX_UNIQUE_BLANKS}`);
  }
  const grids = allSudokuGrids();
  const k = minBlanks + rng.int(maxBlanks - minBlanks + 1);
  for (;;) {
    const solution = grids[rng.int(grids.length)];
    const cells = [...solution];
    let blanks = 0;
    for (const c of rng.permutation(CELLS)) {
      if (blanks === k) break;
      cells[c] = '0';
      if (solveAll(cells.join(''), 2).length === 1) blanks++;
      else cells[c] = solution[c];
    }
    if (blanks === k) return { puzzle: cells.join(''), solution };
  }
}

/**
 * `n` distinct puzzles, deterministic in `seed`, none of them in `exclude` (e.g. the test file's puzzles).
 * `blanks`: a fixed count or an inclusive [min, max] range (default [6, 10]).
 */
export function generateSudokuSet(seed: number, n: number, opts: { exclude?: Set<string>; blanks?: number | [number, number] } = {}): SudokuItem[] {
  const [minBlanks, maxBlanks] = typeof opts.blanks === 'number' ? [opts.blanks, opts.blanks] : (opts.blanks ?? [6, 10]);
  const exclude = opts.exclude ?? new Set<string>();
  const seen = new Set<string>();
  const rng = new Rng(seed, 'sudoku');
  const out: SudokuItem[] = [];
  let misses = 0;
  while (out.length < n) {
    const item = generateSudoku(rng, { minBlanks, maxBlanks });
    if (exclude.has(item.puzzle) || seen.has(item.puzzle)) {
      if (++misses > 100_000) throw new ConfigError(`generateSudokuSet: cannot find ${n} distinct puzzles with ${minBlanks}-${maxBlanks} blanks (got ${out.length})`);
      continue;
    }
    misses = 0;
    seen.add(item.puzzle);
    out.push(item);
  }
  return out;
}
