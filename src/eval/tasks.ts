/**
 * The evaluation tasks: where each test set lives in the data directory, how an item becomes a prompt, its gold
 * answer, how a completion is scored, and the sampler defaults. The four tasks d1 evaluates (GSM8K, MATH500,
 * Countdown, Sudoku) score with `parser`: `d1` = d1's eval/parse_and_get_acc.py exactly (parsers_d1.ts), `lenient` =
 * the project's corrected scorer (README "Evaluation" lists each difference). The code tasks run unit tests.
 */
import path from 'node:path';
import { ConfigError } from '../errors.ts';
import { readCsv, readJsonl, type Row } from '../data/index.ts';
import { countdownAnswer, countdownScore } from '../rewards/countdown.ts';
import { gsm8kGold, parseGsm8kEval, toNumber } from '../rewards/gsm8k.ts';
import { lastBoxed, mathEquivalent } from '../rewards/math.ts';
import { codeTestsReward, extractCode } from '../rewards/code_tests.ts';
import { SYSTEM_PROMPT } from '../tokenizer/templates.ts';
import type { GenerateOptions } from '../sampling/index.ts';
import { countdownFields, formatPrompt } from '../tokenizer/templates.ts';
import { d1CountdownCorrect, d1CountdownEquation, d1Gsm8kCorrect, d1Gsm8kGold, d1MathAnswer, d1MathCorrect, d1ParseGsm8k, d1SudokuCells } from '../parsing/parsers_d1.ts';
import { sudokuCellAccuracy } from '../parsing/sudoku_score.ts';

export type EvalTask = 'sudoku' | 'countdown' | 'gsm8k' | 'math500' | 'humaneval' | 'mbpp';
export const EVAL_TASKS: readonly EvalTask[] = ['sudoku', 'countdown', 'gsm8k', 'math500', 'humaneval', 'mbpp'];
/** How completions of d1's four tasks are scored: d1's parsers exactly, or the project's lenient ones. */
export type EvalParser = 'd1' | 'lenient';
export const EVAL_PARSERS: readonly EvalParser[] = ['d1', 'lenient'];

export interface ItemScore {
  score: number;
  parsed: string | null;
  /** Sudoku: the parsed grid equals the given solution in all 16 cells. */
  solved?: boolean;
}

export interface TaskSpec {
  load(dataDir: string): Row[];
  prompt(row: Row): string;
  gold(row: Row): string;
  /** True for the tasks d1 evaluates (the parser applies); the code tasks are scored by their unit tests. */
  d1: boolean;
  score(completion: string, row: Row, parser?: EvalParser): Promise<ItemScore>; // parser: default d1
  /** d1's eval: greedy, block 32, steps = gen_length / 2 (scaled to our small tasks). */
  sampler: Pick<GenerateOptions, 'sampler' | 'gen_length' | 'block_length' | 'steps' | 'temperature'>;
}

const file = (dataDir: string, rel: string) => path.join(dataDir, rel);

const SPECS: Partial<Record<EvalTask, TaskSpec>> = {
  sudoku: {
    load: (d) => readCsv(file(d, 'sudoku/4x4_test_sudoku.csv')),
    prompt: (row) => formatPrompt('sudoku', row),
    gold: (row) => String(row.Solution),
    d1: true,
    async score(completion, row, parser) {
      const [puzzle, solution] = [String(row.Puzzle), String(row.Solution)];
      if (parser !== 'lenient') {
        const { answer, correct, empty, solved } = d1SudokuCells(completion, puzzle, solution);
        return { score: empty > 0 ? correct / empty : 0, parsed: answer, solved };
      }
      const { accuracy, digits } = sudokuCellAccuracy(completion, puzzle, solution);
      return { score: accuracy, parsed: digits, solved: digits === solution };
    },
    sampler: { sampler: 'llada', gen_length: 17, block_length: 17, steps: 17, temperature: 0 }, // 16 digits + EOS
  },
  countdown: {
    load: (d) => readJsonl(file(d, 'countdown/countdown_cd3_test.jsonl')),
    prompt: (row) => formatPrompt('countdown', row),
    gold: (row) => String(row.output),
    d1: true,
    async score(completion, row, parser) {
      // Exact: the equation uses the given numbers once each and reaches the target.
      const { numbers, target } = countdownFields(row);
      if (parser !== 'lenient') {
        const eq = d1CountdownEquation(completion);
        return { score: d1CountdownCorrect(eq, numbers, target).correct ? 1 : 0, parsed: eq };
      }
      const eq = countdownAnswer(completion);
      return { score: countdownScore(eq, numbers, target) === 1 ? 1 : 0, parsed: eq };
    },
    // The signs format of the shipped configs (configs/countdown-signs-*.yaml, the quickstart): <answer> + 12 characters
    // + </answer> + EOS. A trace model (configs/countdown-sft.yaml) needs --gen-length 76.
    sampler: { sampler: 'llada', gen_length: 15, block_length: 15, steps: 15, temperature: 0 },
  },
  gsm8k: {
    load: (d) => readJsonl(file(d, 'gsm8k/test.jsonl')),
    // d1's RL prompt (SYSTEM_PROMPT + question); d1's eval prompt asks for \boxed{} instead. The parser takes both.
    prompt: (row) => formatPrompt('gsm8k', row),
    gold: (row) => gsm8kGold(row),
    d1: true,
    async score(completion, row, parser) {
      if (parser !== 'lenient') {
        const got = d1ParseGsm8k(completion);
        return { score: d1Gsm8kCorrect(got, d1Gsm8kGold(String(row.answer ?? ''))) ? 1 : 0, parsed: got === null ? null : String(got) };
      }
      const got = parseGsm8kEval(completion);
      const gold = toNumber(gsm8kGold(row));
      return { score: got !== null && gold !== null && Math.abs(got - gold) < 1e-9 ? 1 : 0, parsed: got === null ? null : String(got) };
    },
    sampler: { sampler: 'llada', gen_length: 256, block_length: 32, steps: 128, temperature: 0 },
  },
  math500: {
    load: (d) => readJsonl(file(d, 'math500/test.jsonl')),
    prompt: (row) => `${SYSTEM_PROMPT}\n\n${String(row.problem)}`,
    gold: (row) => String(row.answer),
    d1: true,
    async score(completion, row, parser) {
      if (parser !== 'lenient') {
        const got = d1MathAnswer(completion);
        return { score: d1MathCorrect(got, String(row.answer)) ? 1 : 0, parsed: got };
      }
      const got = lastBoxed(completion);
      return { score: mathEquivalent(got, String(row.answer)) ? 1 : 0, parsed: got };
    },
    sampler: { sampler: 'llada', gen_length: 256, block_length: 32, steps: 128, temperature: 0 },
  },
  humaneval: {
    load: (d) => readJsonl(file(d, 'humaneval/HumanEval.jsonl')),
    prompt: (row) => String(row.prompt), // code completion: the signature and docstring
    gold: (row) => String(row.canonical_solution),
    d1: false,
    async score(completion, row) {
      // pass@1 in the sandbox: the harness's check() must pass.
      const [score] = await codeTestsReward({ completions: [completion], rows: [row] });
      return { score: score === 1 ? 1 : 0, parsed: extractCode(completion) };
    },
    sampler: { sampler: 'llada', gen_length: 256, block_length: 32, steps: 256, temperature: 0 },
  },
  mbpp: {
    // The standard test split: task_id 11-510.
    load: (d) => readJsonl(file(d, 'mbpp/mbpp.jsonl')).filter((r) => Number(r.task_id) >= 11 && Number(r.task_id) <= 510),
    prompt: (row) => `${String(row.text)}\nYour code should pass this test:\n${(row.test_list as string[])[0]}\n`,
    gold: (row) => String(row.code),
    d1: false,
    async score(completion, row) {
      // pass@1: every assert passes.
      const [score] = await codeTestsReward({ completions: [completion], rows: [row] });
      return { score: score === 1 ? 1 : 0, parsed: extractCode(completion) };
    },
    sampler: { sampler: 'llada', gen_length: 256, block_length: 32, steps: 256, temperature: 0 },
  },
};

/**
 * The items a task is evaluated on: its test file in the data directory, or `testFile` in the same format (.csv like
 * d1's Sudoku file, else JSON lines), e.g. a held-out generated set (tasks/generate.ts writeHeldOut) to select
 * checkpoints and recipes on without touching the test file.
 */
export function loadEvalItems(task: EvalTask, dataDir: string, testFile?: string | null): Row[] {
  if (!testFile) return taskSpec(task).load(dataDir);
  return testFile.endsWith('.csv') ? readCsv(testFile) : readJsonl(testFile);
}

export function taskSpec(task: EvalTask): TaskSpec {
  const spec = SPECS[task];
  if (!spec) throw new ConfigError(`--task ${task}: unknown evaluation task (expected one of ${Object.keys(SPECS).join(', ')})`);
  return spec;
}
