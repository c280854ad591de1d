/**
 * Sudoku 4x4 scoring (d1 eval/sudoku.py): the digits of the last <answer>…</answer> block — or, when the completion
 * has none, of the whole completion (our compact template answers with the 16 digits alone) — padded with '0' or cut
 * to 16; the score is the fraction of the puzzle's empty cells whose digit equals the given solution's ("cell
 * accuracy"). Note: 124 of the 500 test puzzles have several solutions; like d1 we compare with the given one.
 */
export function sudokuDigits(completion: string): string {
  const blocks = [...completion.matchAll(/<answer>([\s\S]*?)<\/answer>/g)];
  const source = blocks.length > 0 ? blocks[blocks.length - 1][1] : completion;
  return source.replace(/\D/g, '').padEnd(16, '0').slice(0, 16);
}

export function sudokuCellAccuracy(completion: string, puzzle: string, solution: string): { accuracy: number; digits: string } {
  const digits = sudokuDigits(completion);
  let empty = 0;
  let correct = 0;
  for (let i = 0; i < 16; i++) {
    if (puzzle[i] !== '0') continue;
    empty++;
    if (digits[i] === solution[i]) correct++;
  }
  return { accuracy: empty === 0 ? 1 : correct / empty, digits };
}
