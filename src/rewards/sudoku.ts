/**
 * The Sudoku reward: fraction of the puzzle's empty cells filled correctly, with process credit 1/empty at the
 * character of each right digit (`grpo.credit: process`). `args.parser` picks how the answer is read:
 *   lenient (default) — the digits of the last <answer>…</answer>, or of the whole completion when it has no closed
 *                       block (eval/sudoku_score.ts);
 *   d1                — d1's reward (diffu-grpo/reward_func.py): the digits of the last closed <answer> block; no
 *                       closed block (or no digit in it) scores 0, and so does a puzzle without empty cells.
 * Why lenient is the default: the project trains Sudoku with the compact template (the 16 digits alone, no tags;
 * README "Decisions"), and d1's reward gives every such completion 0, so GRPO would get no signal at all. With
 * tagged completions the two agree except where <answer> is left unclosed (76 of d1's 768 released LLaDA
 * generations: lenient pays partial credit there, d1 pays 0).
 */
import { ConfigError } from '../errors.ts';
import { d1SudokuReward } from '../parsing/parsers_d1.ts';
import { sudokuCellCredit } from '../parsing/sudoku_score.ts';

type Args = { completions: string[]; rows: Record<string, unknown>[]; args?: Record<string, unknown> };
type Credited = { reward: number; credit: { at: number; value: number }[] };

export function sudokuReward({ completions, rows, args }: Args): Credited[] {
  const parser = args?.parser ?? 'lenient';
  if (parser !== 'lenient' && parser !== 'd1') throw new ConfigError(`rewards sudoku args.parser: '${String(parser)}' is not one of d1, lenient`);
  return completions.map((c, i) => {
    const puzzle = String(rows[i].puzzle ?? rows[i].Puzzle);
    const solution = String(rows[i].solution ?? rows[i].Solution);
    if (parser === 'd1') {
      const { score, credit } = d1SudokuReward(c, puzzle, solution);
      return { reward: score, credit };
    }
    const { accuracy, credit } = sudokuCellCredit(c, puzzle, solution);
    return { reward: accuracy, credit };
  });
}
