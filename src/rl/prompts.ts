/** The prompt set of a GRPO run: generated puzzles (sudoku, countdown) or rows of a file, with their prompt text. */
import path from 'node:path';
import { ConfigError } from '../backend/errors.ts';
import type { GrpoConfig } from '../config/schema.ts';
import { loadRows, readCsv, readJsonl, resolveDataDir } from '../data/index.ts';
import { generateCountdownSet } from '../tasks/countdown.ts';
import { generateSudokuSet } from '../tasks/sudoku.ts';
import { formatPrompt, type TaskName } from '../tokenizer/templates.ts';

export interface PromptRow {
  prompt: string;
  /** Every column of the data row (the rewards read them, e.g. the solution). */
  row: Record<string, unknown>;
}

export function loadPromptRows(config: GrpoConfig): PromptRow[] {
  const d = config.data;
  const dataDir = resolveDataDir(config.runtime.data_dir ?? undefined);
  let rows: Record<string, unknown>[];
  if (d.train_path) {
    rows = loadRows({ path: path.resolve(dataDir, d.train_path), fields: d.fields });
    if (d.num_train) rows = rows.slice(0, d.num_train);
  } else {
    const n = d.num_train ?? 10000;
    const seed = d.seed ?? config.run.seed + 1;
    if (d.task === 'sudoku') {
      const exclude = new Set(readCsv(path.join(dataDir, 'sudoku/4x4_test_sudoku.csv')).map((r) => String(r.Puzzle)));
      rows = generateSudokuSet(seed, n, { exclude }) as unknown as Record<string, unknown>[];
    } else if (d.task === 'countdown') {
      const exclude = new Set(readJsonl(path.join(dataDir, 'countdown/countdown_cd3_test.jsonl')).map((r) => `${r.input}|${r.output}`));
      rows = generateCountdownSet(seed, n, { exclude }) as unknown as Record<string, unknown>[];
    } else {
      throw new ConfigError(`data.train_path is required for task '${d.task}' (only sudoku and countdown can be generated)`);
    }
  }
  if (rows.length === 0) throw new ConfigError('data: the prompt set is empty');
  return rows.map((row) => ({ prompt: formatPrompt(d.task as TaskName, row), row }));
}
