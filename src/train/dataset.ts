/**
 * Training data as the trainer sees it: fixed-length token rows `prompt ++ answer ++ EOS ... EOS` ([N, L]) with the
 * prompt length of each row, plus a batch cursor that survives a resume.
 *
 * Synthetic tasks (sudoku, countdown, arithmetic) are generated from the run seed and never contain an item of the held-out test
 * file; file tasks (gsm8k, plain) read `data.train_path` from the data directory and hold out the last `num_eval` rows.
 */
import path from 'node:path';
import { ConfigError } from '../backend/errors.ts';
import { Rng } from '../backend/rng.ts';
import type { TrainConfig } from '../config/schema.ts';
import { loadRows, readCsv, readJsonl, resolveDataDir } from '../data/index.ts';
import { generateArithmeticSet } from '../tasks/arithmetic.ts';
import { generateCountdownSet } from '../tasks/countdown.ts';
import { generateSudokuSet } from '../tasks/sudoku.ts';
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

/** The d1 test files that generated training items must never overlap. */
const TEST_FILES = { sudoku: 'sudoku/4x4_test_sudoku.csv', countdown: 'countdown/countdown_cd3_test.jsonl' } as const;

/** Loads or generates the train and held-out examples named by `data` in the config. */
export function loadExamples(config: TrainConfig): { train: Example[]; heldOut: Example[] } {
  const d = config.data;
  const dataDir = resolveDataDir(config.runtime.data_dir ?? undefined);
  if (d.train_path === null) {
    const n = (d.num_train ?? 20000) + d.num_eval;
    const rows = generateRows(d.task, config.run.seed, n, dataDir);
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

/** n generated items of a synthetic task, none of them in the task's d1 test file (sudoku, countdown). */
export function generateRows(task: string, seed: number, n: number, dataDir: string): Record<string, unknown>[] {
  if (task === 'sudoku') {
    const exclude = new Set(readCsv(path.join(dataDir, TEST_FILES.sudoku)).map((r) => String(r.Puzzle)));
    return generateSudokuSet(seed, n, { exclude }) as unknown as Record<string, unknown>[];
  }
  if (task === 'countdown') {
    const exclude = new Set(readJsonl(path.join(dataDir, TEST_FILES.countdown)).map((r) => `${r.input}|${r.output}`));
    return generateCountdownSet(seed, n, { exclude }) as unknown as Record<string, unknown>[];
  }
  if (task === 'arithmetic') {
    // Templated problems share nothing with GSM8K's test questions, so nothing needs excluding.
    return generateArithmeticSet(seed, n) as unknown as Record<string, unknown>[];
  }
  throw new ConfigError(`data.train_path is required for task '${task}' (only sudoku, countdown and arithmetic can be generated)`);
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

export interface CursorState {
  epoch: number;
  pos: number;
}

/**
 * Walks the data in a fresh permutation per epoch. The permutation of epoch e depends only on (seed, e), so the cursor
 * {epoch, pos} alone restores the exact order on resume.
 */
export class BatchCursor {
  private perm: number[];
  constructor(
    private readonly n: number,
    private readonly seed: number,
    private state: CursorState = { epoch: 0, pos: 0 },
  ) {
    if (n === 0) throw new ConfigError('the training set is empty (every example was longer than data.seq_len?)');
    this.perm = this.permutation(this.state.epoch);
  }

  private permutation(epoch: number): number[] {
    return new Rng(this.seed, `data-epoch-${epoch}`).permutation(this.n);
  }

  next(batchSize: number): number[] {
    const out: number[] = [];
    while (out.length < batchSize) {
      if (this.state.pos === this.n) {
        this.state = { epoch: this.state.epoch + 1, pos: 0 };
        this.perm = this.permutation(this.state.epoch);
      }
      out.push(this.perm[this.state.pos++]);
    }
    return out;
  }

  getState(): CursorState {
    return { ...this.state };
  }
}
