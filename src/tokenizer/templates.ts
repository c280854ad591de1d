/**
 * Prompt/answer text per task. The trainer encodes `prompt` and `answer` separately and appends EOS padding; no chat
 * template is applied (our models are trained from scratch, there is no chat format to match).
 *
 * Choices, and why:
 * - sudoku: prompt `"{puzzle}="`, answer `"{solution}"` (the 16 digits alone). d1's Sudoku prompt is ~900 characters
 *   of rules; a tiny character model needs only the 16 cells. We first kept d1's `<answer>` tags around the solution,
 *   but a tiny model then never learned even to copy the clues in 900 SFT steps (the eval loss sat at the
 *   uniform-digit level), while the bare format learns clue copying in ~100 steps and the constraints soon after
 *   (measured on the 0.86M model of configs/sudoku-sft.yaml). The Sudoku reward and eval read the digits of the last
 *   <answer>…</answer> block when there is one, else of the whole completion (eval/sudoku_score.ts), so both formats
 *   score the same. No reasoning block: d1 gives no format reward for Sudoku.
 * - countdown: prompt `"{n1},{n2},{n3}->{target}:"` (the test file's `input` and `output`, joined, each number
 *   zero-padded to 3 digits: "030,100,093->023:", so every number sits at a fixed position of the row), answer
 *   `"<answer>{expression}</answer>"`, the expression using each number once with + - * / and as few parentheses as
 *   possible (tasks/countdown.ts). Short for the same reason; d1's reward reads the last <answer> (DOTALL), checks the
 *   number multiset and evaluates, so the tag is kept. Rows from the d1 test file ({input, output}) are accepted too;
 *   when a row has no `solution`, the solver supplies one. With `data.countdown_trace: true` the generated rows carry a
 *   worked signed sum (`"030+100=130,130+093=223,223-023=200,200/2=100,223-100=123,"`) that precedes `<answer>`;
 *   with `data.countdown_ops: true` each row is one line of that trace (prompt `"030+100="`, answer `"130"`): the
 *   arithmetic curriculum that comes before the trace (configs/countdown-ops.yaml); with `data.countdown_signs: true`
 *   only signed-sum puzzles are generated and the expression is the numbers in the prompt's order, each behind its
 *   sign (`"<answer>+ 30-100+ 93</answer>"`, tasks/countdown.ts signedSumSigns).
 * - gsm8k: d1's RL prompt, `SYSTEM_PROMPT + "\n\n" + question` (data_utils.get_gsm8k_questions). The answer is d1's
 *   XML format built from GSM8K's worked solution: `<reasoning>\n{R}\n</reasoning>\n<answer>\n{A}\n</answer>\n` with R =
 *   the text before `####`, calculator annotations `<<48/2=24>>` removed, trimmed; A = the text after `####`, trimmed
 *   (d1's extract_hash_answer: commas such as "1,080" are kept, so the correctness reward's exact string match
 *   agrees). The trailing "\n" is what d1's xmlcount and strict-format rewards expect after `</answer>`. R keeps
 *   GSM8K's line breaks: d1's soft/strict format regexes lack DOTALL and so fail on multi-line reasoning; that is a
 *   d1 quirk we reproduce rather than hide by flattening the text.
 * - plain: the row's `prompt` and `answer` strings as they are (map columns with `data.fields`).
 */
import { DataError } from '../errors.ts';
import { solveCountdown } from '../tasks/countdown.ts';

export type TaskName = 'sudoku' | 'countdown' | 'gsm8k' | 'arithmetic' | 'plain';
export const TASK_NAMES: readonly TaskName[] = ['sudoku', 'countdown', 'gsm8k', 'arithmetic', 'plain'];

/** d1's SYSTEM_PROMPT (diffu-grpo/data_utils.py), verbatim: leading and trailing newline included. */
export const SYSTEM_PROMPT = '\nRespond in the following format:\n<reasoning>\n...\n</reasoning>\n<answer>\n...\n</answer>\n';

export interface Example {
  prompt: string;
  answer: string;
}

type Row = Record<string, unknown>;

/** The prompt text of `row` for `task` (all a generation or eval needs). */
export function formatPrompt(task: TaskName, row: Row): string {
  switch (task) {
    case 'sudoku':
      return `${sudokuFields(row).puzzle}=`;
    case 'countdown': {
      if (typeof row.op === 'string') return countdownOp(row.op).prompt; // data.countdown_ops
      const { numbers, target } = countdownFields(row);
      // Fixed width (3 digits each, "030,100,093->023:"): every number at a fixed position (tasks/countdown.ts field3).
      return `${numbers.map((x) => String(x).padStart(3, '0')).join(',')}->${String(target).padStart(3, '0')}:`;
    }
    case 'gsm8k':
    case 'arithmetic': // generated GSM8K-style word problems (tasks/arithmetic.ts): GSM8K's template and rewards
      return `${SYSTEM_PROMPT}\n\n${str(row, 'question', task)}`;
    case 'plain':
      return str(row, 'prompt', task);
    default:
      throw new DataError(`unknown task '${String(task)}' (expected one of ${TASK_NAMES.join(', ')})`);
  }
}

/** Prompt and target answer of `row` for `task`. */
export function formatExample(task: TaskName, row: Row): Example {
  const prompt = formatPrompt(task, row);
  switch (task) {
    case 'sudoku': {
      const { solution } = sudokuFields(row);
      if (!/^[1-4]{16}$/.test(solution)) throw new DataError(`sudoku row: solution must be 16 digits 1-4, got ${JSON.stringify(solution)}`);
      return { prompt, answer: solution };
    }
    case 'countdown': {
      if (typeof row.op === 'string') return countdownOp(row.op); // data.countdown_ops: one line of the trace
      const { numbers, target } = countdownFields(row);
      const expr = typeof row.solution === 'string' ? row.solution : solveCountdown(numbers, target);
      if (expr === null) throw new DataError(`countdown row ${JSON.stringify(row)} has no solution`);
      // Generated with data.countdown_trace: the worked signed sum first (tasks/countdown.ts signedSumTrace).
      const trace = typeof row.trace === 'string' ? row.trace : '';
      return { prompt, answer: `${trace}<answer>${expr}</answer>` };
    }
    case 'gsm8k':
    case 'arithmetic': {
      const { reasoning, answer } = parseGsm8kAnswer(str(row, 'answer', task));
      return { prompt, answer: `<reasoning>\n${reasoning}\n</reasoning>\n<answer>\n${answer}\n</answer>\n` };
    }
    case 'plain':
      return { prompt, answer: str(row, 'answer', task) };
  }
}

/** GSM8K worked solution -> reasoning (before `####`, `<<...>>` removed, trimmed) and final answer (after `####`, trimmed). */
export function parseGsm8kAnswer(solution: string): { reasoning: string; answer: string } {
  const at = solution.indexOf('####');
  if (at < 0) throw new DataError(`gsm8k answer has no '####' line: ${JSON.stringify(solution.slice(-80))}`);
  return {
    reasoning: solution.slice(0, at).replace(/<<[^>]*>>/g, '').trim(),
    answer: solution.slice(at + 4).trim(),
  };
}

/** {puzzle, solution}, or the d1 CSV's {Puzzle, Solution}; each 16 characters. Solution may be absent (prompt only). */
function sudokuFields(row: Row): { puzzle: string; solution: string } {
  const puzzle = String(row.puzzle ?? row.Puzzle ?? '');
  const solution = String(row.solution ?? row.Solution ?? '');
  if (!/^[0-4]{16}$/.test(puzzle)) throw new DataError(`sudoku row: puzzle must be 16 digits 0-4, got ${JSON.stringify(puzzle)}`);
  return { puzzle, solution };
}

/** One line of the signed-sum trace as an example: "030+100=130" -> prompt "030+100=", answer "130". */
function countdownOp(op: string): Example {
  const k = op.lastIndexOf('=');
  if (k <= 0 || k === op.length - 1) throw new DataError(`countdown op row: '${op}' is not "<left>=<result>"`);
  return { prompt: op.slice(0, k + 1), answer: op.slice(k + 1) };
}

/** {numbers: number[], target}, or the d1 test file's {input: "30,100,93", output: "23"}. */
export function countdownFields(row: Row): { numbers: number[]; target: number } {
  const rawNumbers = row.numbers ?? row.nums ?? (typeof row.input === 'string' ? row.input.split(',') : undefined);
  const rawTarget = row.target ?? row.output;
  const numbers = Array.isArray(rawNumbers) ? rawNumbers.map(Number) : [];
  const target = Number(rawTarget);
  if (numbers.length === 0 || numbers.some((n) => !Number.isFinite(n)) || rawTarget === undefined || !Number.isFinite(target)) {
    throw new DataError(`countdown row needs numbers+target (or input+output), got ${JSON.stringify(row)}`);
  }
  return { numbers, target };
}

function str(row: Row, field: string, task: TaskName): string {
  const v = row[field];
  if (typeof v !== 'string') {
    throw new DataError(`${task} row: field '${field}' is ${v === undefined ? 'missing' : `not a string (${typeof v})`}; columns: ${Object.keys(row).join(', ')}`);
  }
  return v;
}
