/**
 * d1's evaluation parsers, exactly: `parse_gsm_answers`, `parse_math_answers`, `parse_countdown_answers` and
 * `parse_sudoku_answers` of d1's eval/parse_and_get_acc.py (github.com/dllm-reasoning/d1, commit 837888f), the gold
 * extraction `Parser.extract_answer_gsm8k` of eval/parsers.py, and the Sudoku reward's `extract_answer_sudoku` of
 * diffu-grpo/reward_func.py. Python's semantics are kept where they decide a score: `float()`/`int()`
 * (python_text.ts), Unicode `\s`/`\d`/`\b` in regexes, `.` not matching '\n' without DOTALL, `$` also matching before
 * a final '\n', code-point indexing, and `eval()` of Countdown equations (python_arith.ts). Deviations that remain are
 * listed in README ("Evaluation"). The project's lenient scorer is in tasks.ts and the rewards it reuses.
 */
import { boxedOrWhole, isEquivD1 } from './d1_math.ts';
import { pythonEvalArithmetic } from './python_arith.ts';
import { codePoints, decimalValue, PY_BOUNDARY, PY_DIGIT, PY_SPACE, pyStrip, pythonFloat } from './python_text.ts';

const answerRe = /<answer>([\s\S]*?)<\/answer>/; // re.search(r"<answer>(.*?)</answer>", text, re.DOTALL): the first
const numberRe = () => new RegExp(`-?${PY_DIGIT}+\\.?${PY_DIGIT}*`, 'gu'); // r"-?\d+\.?\d*"

// ---------------------------------------------------------------- GSM8K

/** d1's gold: the first `#### n` of a GSM8K solution (no minus sign: negative golds give null, never matched). */
export function d1Gsm8kGold(answer: string): number | null {
  const m = new RegExp(`####[${PY_SPACE}]*\\$?([${PY_DIGIT},]+(?:\\.${PY_DIGIT}+)?)`, 'u').exec(answer);
  return m ? pythonFloat(m[1].replaceAll(',', '')) : null;
}

/**
 * d1's GSM8K prediction: the first `\boxed{…}` (on one line, up to the first '}') whose stripped content is not
 * empty or dots and is a float or contains a number (then its first number); else the FIRST closed <answer> block's
 * stripped content as a float, else its last number; else null.
 */
export function d1ParseGsm8k(completion: string): number | null {
  for (const m of completion.matchAll(/\\boxed\{([^\n]*?)\}/g)) {
    const content = pyStrip(m[1]);
    if (!content || content === '...' || /^\.+$/.test(content)) continue;
    const v = pythonFloat(content);
    if (v !== null) return v;
    const numbers = content.match(numberRe());
    if (numbers) {
      const first = pythonFloat(numbers[0]);
      if (first !== null) return first;
    }
  }
  const a = answerRe.exec(completion);
  if (!a) return null;
  const text = pyStrip(a[1]);
  if (!text) return null;
  const v = pythonFloat(text);
  if (v !== null) return v;
  const numbers = text.match(numberRe());
  return numbers ? pythonFloat(numbers[numbers.length - 1]) : null;
}

/** `parsed_answer is not None and parsed_answer == ground_truth` (float equality; nan never equals). */
export const d1Gsm8kCorrect = (parsed: number | null, gold: number | null) => parsed !== null && gold !== null && parsed === gold;

// ---------------------------------------------------------------- MATH500

/** d1's MATH prediction: the last `\boxed{}`'s content (the whole completion when it has none); if that is empty or None, the first <answer> block. */
export function d1MathAnswer(completion: string): string | null {
  let parsed = boxedOrWhole(completion);
  if (!parsed) {
    const a = answerRe.exec(completion);
    if (a) parsed = pyStrip(a[1]);
  }
  return parsed;
}

export const d1MathCorrect = (parsed: string | null, gold: string) => parsed !== null && isEquivD1(parsed, gold);

// ---------------------------------------------------------------- Countdown

/** d1's Countdown equation: the last `\boxed{}` (else the whole completion), LaTeX operators replaced, the left side of `… = n`. */
export function d1CountdownEquation(completion: string): string {
  let equation = boxedOrWhole(completion);
  if (equation === null) {
    const a = answerRe.exec(completion);
    equation = a ? pyStrip(a[1]) : completion;
  }
  equation = equation.replaceAll('\\div', '/').replaceAll('\\times', '*').replaceAll('\\cdot', '*');
  const m = /([0-9+\-*/() ]+)=[0-9. ]+/.exec(equation);
  return m ? pyStrip(m[1]) : equation;
}

/** d1's validate_equation + evaluate_equation: the numbers used are exactly the given ones and |value − target| < 1e-5. */
export function d1CountdownCorrect(equation: string, numbers: number[], target: number): { correct: boolean; value: string | null } {
  const used = (equation.match(new RegExp(`${PY_DIGIT}+`, 'gu')) ?? []).map((n) => codePoints(n).reduce((v, c) => v * 10n + BigInt(decimalValue(c)), 0n));
  const given = numbers.map(BigInt).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  used.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (used.length !== given.length || used.some((n, k) => n !== given[k])) return { correct: false, value: null };
  if (!new RegExp(`^[${PY_DIGIT}+\\-*/().${PY_SPACE}]+$`, 'u').test(equation)) return { correct: false, value: 'inf' };
  const r = pythonEvalArithmetic(pyStrip(equation));
  // int: exact; float: |r − target| < 1e-5. A complex or non-numeric result (where d1's script would raise) is wrong.
  if (r.kind === 'int') return { correct: r.v === BigInt(target), value: String(r.v) };
  if (r.kind === 'float') return { correct: Math.abs(r.v - target) < 1e-5, value: String(r.v) };
  return { correct: false, value: r.kind === 'error' ? 'inf' : r.kind };
}

// ---------------------------------------------------------------- Sudoku

const S = `[${PY_SPACE}]`;
const SUDOKU_PATTERNS = [
  new RegExp(`<answer>[\\s\\S]*?\`\`\`${S}*([${PY_DIGIT}${PY_SPACE}]+)\`\`\``, 'u'),
  /<answer>([\s\S]*?)(?:<\|eot_id\|>|<\|endoftext\|>|<\/answer>)/u,
  new RegExp(`</answer>${S}*([\\s\\S]*?)(?:<\\|eot_id\\|>|<\\|endoftext\\|>|(?=\\n?$))`, 'u'), // Python's $: end, or before a final \n
  new RegExp(`[\\s\\S]*?(${PY_DIGIT}{16})${S}*</answer>`, 'u'),
  new RegExp(`${PY_BOUNDARY}(${PY_DIGIT}{16})${PY_BOUNDARY}`, 'u'),
];

/**
 * d1's Sudoku answer string: the first of five patterns whose group is not blank — a code fence inside the first
 * <answer>; the first <answer> up to a closing tag or end-of-text token (so an unclosed <answer> counts when the
 * text ends in such a token); text after </answer>; 16 digits before </answer>; a lone run of 16 digits — with all
 * whitespace removed. Non-digits are kept (they match no cell). '' when nothing matched.
 */
export function d1SudokuAnswer(completion: string): string {
  for (const re of SUDOKU_PATTERNS) {
    const m = re.exec(completion);
    if (m && pyStrip(m[1])) return pyStrip(m[1]).replace(new RegExp(S, 'gu'), '');
  }
  return '';
}

/** Counts for one puzzle: empty cells of the puzzle and how many of them the answer (padded with '0' / cut to 16) fills right. */
function cellCounts(answer: string, puzzle: string, solution: string): { correct: number; empty: number } {
  const cells = codePoints(answer);
  const grid = cells.length === 0 ? [] : cells.length < 16 ? [...cells, ...Array(16 - cells.length).fill('0')] : cells.slice(0, 16);
  let correct = 0;
  let empty = 0;
  for (let i = 0; i < 16; i++) {
    if (puzzle[i] !== '0') continue;
    empty++;
    if (grid.length > 0 && grid[i] === solution[i]) correct++;
  }
  return { correct, empty };
}

/**
 * d1's eval cell counts (`correct_cells`, `empty_cells`); d1's accuracy over a set is Σcorrect / Σempty. `solved`:
 * the parsed grid equals the given solution in all 16 cells.
 */
export function d1SudokuCells(completion: string, puzzle: string, solution: string): { answer: string; correct: number; empty: number; solved: boolean } {
  const answer = d1SudokuAnswer(completion);
  return { answer, ...cellCounts(answer, puzzle, solution), solved: codePoints(answer).slice(0, 16).join('') === solution };
}

/** Python's str.isdigit(): the decimal digits and the other digit characters (superscripts, circled digits, …). */
const PY_ISDIGIT = new RegExp(`^[${PY_DIGIT}\\u00b2\\u00b3\\u00b9\\u1369-\\u1371\\u19da\\u2070\\u2074-\\u2079\\u2080-\\u2089\\u2460-\\u2468\\u2474-\\u247c\\u2488-\\u2490\\u24ea\\u24f5-\\u24fd\\u24ff\\u2776-\\u277e\\u2780-\\u2788\\u278a-\\u2792\\u{10a40}-\\u{10a43}\\u{10e60}-\\u{10e68}\\u{11052}-\\u{1105a}\\u{1f100}-\\u{1f10a}]$`, 'u');

/**
 * d1's Sudoku reward (reward_func.py `extract_answer_sudoku` + `validate_sudoku_solution`): the digits of the LAST
 * closed <answer> block; no closed block, or no digits in it, scores 0; a puzzle without empty cells scores 0.
 * Returns the score and, for process credit, the completion offset of each filled empty cell's digit: 1/empty when
 * it is right, 0 when wrong (judged; sudoku_score.ts).
 */
export function d1SudokuReward(completion: string, puzzle: string, solution: string): { score: number; credit: { at: number; value: number }[] } {
  const blocks = [...completion.matchAll(/<answer>([\s\S]*?)<\/answer>/g)];
  // Cells the completion never answered are judged wrong at its end (rewards/types.ts Credit).
  const unanswered = (from: number) => [...Array(16).keys()].filter((i) => i >= from && puzzle[i] === '0').map(() => ({ at: completion.length, value: 0 }));
  if (blocks.length === 0) return { score: 0, credit: unanswered(0) };
  const last = blocks[blocks.length - 1];
  const inner = last[1];
  const lead = inner.length - inner.replace(new RegExp(`^${S}+`, 'u'), '').length;
  const digits: { ch: string; at: number }[] = [];
  let at = last.index! + '<answer>'.length + lead;
  for (const ch of pyStrip(inner)) {
    if (PY_ISDIGIT.test(ch)) digits.push({ ch, at });
    at += ch.length;
  }
  const { correct, empty } = cellCounts(digits.map((d) => d.ch).join(''), puzzle, solution);
  if (empty === 0) return { score: 0, credit: [] };
  if (digits.length === 0) return { score: 0, credit: unanswered(0) };
  const credit: { at: number; value: number }[] = [];
  for (let i = 0; i < Math.min(16, digits.length); i++) if (puzzle[i] === '0') credit.push({ at: digits[i].at, value: digits[i].ch === solution[i] ? 1 / empty : 0 });
  return { score: correct / empty, credit: [...credit, ...unanswered(digits.length)] };
}
