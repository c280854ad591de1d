/** The prompt set of a GRPO run: generated puzzles (sudoku, countdown) or rows of a file, with their prompt text. */
import path from 'node:path';
import { ConfigError } from '../errors.ts';
import type { GrpoConfig } from '../config/schema.ts';
import { loadRows, resolveDataDir } from '../data/index.ts';
import { generateRows } from '../tasks/generate.ts';
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
    rows = generateRows(d.task, d.seed ?? config.run.seed + 1, d.num_train ?? 10000, dataDir, { countdownTrace: d.countdown_trace, countdownSigns: d.countdown_signs, arithmeticSmall: d.arithmetic_small });
  }
  if (rows.length === 0) throw new ConfigError('data: the prompt set is empty');
  return rows.map((row) => ({ prompt: formatPrompt(d.task as TaskName, row), row }));
}
