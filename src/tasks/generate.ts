/** Generated training sets of the synthetic tasks (SFT examples and GRPO prompts alike). */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.ts';
import { readCsv, readJsonl } from '../data/index.ts';
import { generateArithmeticSet } from './arithmetic.ts';
import { generateCountdownSet } from './countdown.ts';
import { generateSudokuSet } from './sudoku.ts';

/** The d1 test files that generated training items must never overlap. */
const TEST_FILES = { sudoku: 'sudoku/4x4_test_sudoku.csv', countdown: 'countdown/countdown_cd3_test.jsonl' } as const;

/** n generated items of a synthetic task, none of them in the task's d1 test file (sudoku, countdown). */
export function generateRows(task: string, seed: number, n: number, dataDir: string, opts: { countdownTrace?: boolean; countdownOps?: boolean; countdownSigns?: boolean; arithmeticSmall?: boolean } = {}): Record<string, unknown>[] {
  if (opts.countdownTrace && task !== 'countdown') throw new ConfigError(`data.countdown_trace: only task 'countdown' has a trace (data.task is '${task}')`);
  if (opts.countdownOps && task !== 'countdown') throw new ConfigError(`data.countdown_ops: only task 'countdown' has a trace (data.task is '${task}')`);
  if (opts.countdownSigns && task !== 'countdown') throw new ConfigError(`data.countdown_signs: only task 'countdown' has signs (data.task is '${task}')`);
  if (opts.countdownSigns && (opts.countdownTrace || opts.countdownOps)) throw new ConfigError('data.countdown_signs: choose one of countdown_signs, countdown_trace and countdown_ops');
  if (opts.arithmeticSmall && task !== 'arithmetic') throw new ConfigError(`data.arithmetic_small: only task 'arithmetic' has it (data.task is '${task}')`);
  if (opts.countdownOps && opts.countdownTrace) throw new ConfigError('data.countdown_ops and data.countdown_trace: choose one (ops rows are the single lines of the trace)');
  if (task === 'sudoku') {
    const exclude = new Set(readCsv(path.join(dataDir, TEST_FILES.sudoku)).map((r) => String(r.Puzzle)));
    return generateSudokuSet(seed, n, { exclude }) as unknown as Record<string, unknown>[];
  }
  if (task === 'countdown') {
    const exclude = new Set(readJsonl(path.join(dataDir, TEST_FILES.countdown)).map((r) => `${r.input}|${r.output}`));
    if (!opts.countdownOps) return generateCountdownSet(seed, n, { exclude, trace: opts.countdownTrace ?? false, signs: opts.countdownSigns ?? false }) as unknown as Record<string, unknown>[];
    // The arithmetic curriculum: each line of each puzzle's trace is a row ("030+100=" -> "130"), 5 per puzzle.
    const puzzles = generateCountdownSet(seed, Math.ceil(n / 5), { exclude, trace: true });
    return puzzles.flatMap((p) => p.trace!.split(',').filter(Boolean).map((op) => ({ numbers: p.numbers, target: p.target, op }))).slice(0, n);
  }
  if (task === 'arithmetic') {
    // Templated problems share nothing with GSM8K's test questions, so nothing needs excluding.
    return generateArithmeticSet(seed, n, { small: opts.arithmeticSmall ?? false }) as unknown as Record<string, unknown>[];
  }
  throw new ConfigError(`data.train_path is required for task '${task}' (only sudoku, countdown and arithmetic can be generated)`);
}

/**
 * Writes generated items in the format of the task's test file, so `yarn eval --test-file` reads them like the test
 * set: sudoku = d1's CSV (Puzzle,Solution), countdown = d1's JSON lines ({input: "a,b,c", output: "t"}), arithmetic =
 * GSM8K's JSON lines ({question, answer: "...#### n"}, read with `--task gsm8k`). Used for held-out selection sets.
 */
export function writeHeldOut(task: string, rows: Record<string, unknown>[], file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  let text: string;
  if (task === 'sudoku') text = ['Puzzle,Solution', ...rows.map((r) => `${r.puzzle},${r.solution}`)].join('\n') + '\n';
  else if (task === 'countdown') text = rows.map((r) => JSON.stringify({ input: (r.numbers as number[]).join(','), output: String(r.target) })).join('\n') + '\n';
  else if (task === 'arithmetic') text = rows.map((r) => JSON.stringify({ question: r.question, answer: r.answer })).join('\n') + '\n';
  else throw new ConfigError(`writeHeldOut: task '${task}' has no generator (sudoku, countdown, arithmetic)`);
  fs.writeFileSync(file, text);
}
