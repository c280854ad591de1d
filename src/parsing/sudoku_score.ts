/**
 * The lenient Sudoku scorer (`--parser lenient`, the `sudoku` reward's default; d1's exact ones are in
 * parsers_d1.ts): the digits of the last <answer>…</answer> block — or, when the completion
 * has none, of the whole completion (our compact template answers with the 16 digits alone) — padded with '0' or cut
 * to 16; the score is the fraction of the puzzle's empty cells whose digit equals the given solution's ("cell
 * accuracy"). Note: 124 of the 500 test puzzles have several solutions; like d1 we compare with the given one.
 */
/** The 16 cell digits and, for each digit actually present, its character offset in the completion. */
function sudokuCells(completion: string): { digits: string; offsets: number[] } {
  const blocks = [...completion.matchAll(/<answer>([\s\S]*?)<\/answer>/g)];
  const last = blocks.length > 0 ? blocks[blocks.length - 1] : null;
  const source = last ? last[1] : completion;
  const base = last ? last.index! + '<answer>'.length : 0;
  const offsets: number[] = [];
  let digits = '';
  for (let i = 0; i < source.length && digits.length < 16; i++) {
    if (source[i] >= '0' && source[i] <= '9') {
      digits += source[i];
      offsets.push(base + i);
    }
  }
  return { digits: digits.padEnd(16, '0'), offsets };
}

export function sudokuCellAccuracy(completion: string, puzzle: string, solution: string): { accuracy: number; digits: string } {
  const { accuracy, digits } = sudokuCellCredit(completion, puzzle, solution);
  return { accuracy, digits };
}

/**
 * Cell accuracy plus its process credit: each correctly filled empty cell is worth 1/empty, tied to the character
 * offset of its digit in the completion (GRPO's `credit: process`; the credit sums to the accuracy). A wrongly filled
 * empty cell gets an entry of value 0: judged, earned nothing (`grpo.credit_baseline: group` needs to tell judged
 * tokens from the rest), and so does an empty cell the completion never reached (fewer than 16 digits), at the
 * completion's end (at = its length: the EOS that stopped it short). Entries are in cell order.
 */
export function sudokuCellCredit(completion: string, puzzle: string, solution: string): { accuracy: number; digits: string; credit: { at: number; value: number }[] } {
  const { digits, offsets } = sudokuCells(completion);
  const emptyCells = [...Array(16).keys()].filter((i) => puzzle[i] === '0');
  const empty = emptyCells.length;
  if (empty === 0) return { accuracy: 1, digits, credit: [] };
  const right = (i: number) => digits[i] === solution[i] && i < offsets.length;
  const credit = emptyCells.map((i) => (i < offsets.length ? { at: offsets[i], value: right(i) ? 1 / empty : 0 } : { at: completion.length, value: 0 }));
  return { accuracy: emptyCells.filter(right).length / empty, digits, credit };
}
