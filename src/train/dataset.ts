/**
 * Training data as the trainer sees it: fixed-length token rows `prompt ++ answer ++ EOS ... EOS` ([N, L]) with the
 * prompt length of each row (the order they are visited in is engine/cursor.ts).
 *
 * Synthetic tasks (sudoku, countdown, arithmetic) are generated from the run seed (tasks/generate.ts) and never
 * contain an item of the held-out test file; file tasks (gsm8k, plain) read `data.train_path` from the data directory and hold out the last `num_eval` rows.
 */
import path from 'node:path';
import { ConfigError } from '../errors.ts';
import type { TrainConfig } from '../config/schema.ts';
import { loadRows, resolveDataDir } from '../data/index.ts';
import { generateRows } from '../tasks/generate.ts';
import { formatExample, type TaskName } from '../tokenizer/templates.ts';
import type { Tokenizer } from '../tokenizer/index.ts';

export interface Example {
  prompt: string;
  answer: string;
}

export interface TokenizedSet {
  /** [n * L] row-major token ids. */
  ids: Int32Array;
  /** [n] prompt length of each row (0 for pretraining). */
  promptLengths: Int32Array;
  n: number;
  L: number;
  /** Examples dropped because prompt + answer + one EOS did not fit in L. */
  dropped: number;
}

/** Loads or generates the train and held-out examples named by `data` in the config. */
export function loadExamples(config: TrainConfig): { train: Example[]; heldOut: Example[] } {
  const d = config.data;
  const dataDir = resolveDataDir(config.runtime.data_dir ?? undefined);
  if (d.train_path === null) {
    const n = (d.num_train ?? 20000) + d.num_eval;
    const rows = generateRows(d.task, config.run.seed, n, dataDir, { countdownTrace: d.countdown_trace, countdownOps: d.countdown_ops, countdownSigns: d.countdown_signs, arithmeticSmall: d.arithmetic_small });
    const examples = rows.map((row) => formatExample(d.task as TaskName, row));
    return { train: examples.slice(0, n - d.num_eval), heldOut: examples.slice(n - d.num_eval) };
  }
  const rows = loadRows({ path: path.resolve(dataDir, d.train_path), fields: d.fields });
  if (rows.length <= d.num_eval) {
    throw new ConfigError(`data.num_eval (${d.num_eval}) must be smaller than the ${rows.length} rows of ${d.train_path}`);
  }
  const examples = rows.map((row) => formatExample(d.task as TaskName, row));
  const train = examples.slice(0, examples.length - d.num_eval);
  return { train: d.num_train ? train.slice(0, d.num_train) : train, heldOut: examples.slice(examples.length - d.num_eval) };
}

/** Encodes examples into rows of exactly L tokens; `withPrompt = false` (pretraining) gives prompt length 0. */
export function tokenize(examples: Example[], tok: Tokenizer, L: number, withPrompt = true): TokenizedSet {
  const rows: number[][] = [];
  const prompts: number[] = [];
  let dropped = 0;
  for (const ex of examples) {
    const p = tok.encode(ex.prompt);
    const a = tok.encode(ex.answer);
    if (p.length + a.length + 1 > L) {
      dropped++;
      continue;
    }
    const row = [...p, ...a];
    while (row.length < L) row.push(tok.eosId);
    rows.push(row);
    prompts.push(withPrompt ? p.length : 0);
  }
  const ids = new Int32Array(rows.length * L);
  rows.forEach((r, i) => ids.set(r, i * L));
  return { ids, promptLengths: Int32Array.from(prompts), n: rows.length, L, dropped };
}

/** Rows `indices` of `set` as one [B*L] batch. */
export function gatherRows(set: TokenizedSet, indices: number[]): { ids: Int32Array; promptLengths: Int32Array } {
  const ids = new Int32Array(indices.length * set.L);
  indices.forEach((r, i) => ids.set(set.ids.subarray(r * set.L, (r + 1) * set.L), i * set.L));
  return { ids, promptLengths: Int32Array.from(indices, (r) => set.promptLengths[r]) };
}
