/**
 * d1's eval parsers, one test per branch of d1's code (eval/parse_and_get_acc.py, eval/parsers.py,
 * eval/parser_helper.py, diffu-grpo/reward_func.py at commit 837888f); the expected values follow the Python.
 */
import { describe, expect, it } from 'vitest';
import { isEquivD1, lastBoxedOnlyString, removeBoxed, stripStringD1 } from '../../src/parsing/d1_math.ts';
import { d1CountdownCorrect, d1CountdownEquation, d1Gsm8kCorrect, d1Gsm8kGold, d1MathAnswer, d1MathCorrect, d1ParseGsm8k, d1SudokuAnswer, d1SudokuCells, d1SudokuReward } from '../../src/parsing/parsers_d1.ts';
import { parseGsm8kEval } from '../../src/rewards/gsm8k.ts';
import { sudokuReward } from '../../src/rewards/sudoku.ts';

describe('GSM8K gold: Parser.extract_answer_gsm8k', () => {
  it('the first "#### n", commas removed, optional $ and decimals', () => {
    expect(d1Gsm8kGold('so 18\n#### 1,080')).toBe(1080);
    expect(d1Gsm8kGold('#### $18.50 #### 3')).toBe(18.5);
  });
  it('no minus sign: a negative gold is None (and never matched)', () => {
    expect(d1Gsm8kGold('#### -5')).toBeNull();
    expect(d1Gsm8kCorrect(-5, d1Gsm8kGold('#### -5'))).toBe(false);
  });
  it('float() failing inside the try ("#### ,") is None', () => expect(d1Gsm8kGold('#### ,')).toBeNull());
});

describe('GSM8K prediction: parse_gsm_answers', () => {
  it('boxed: the first \\boxed{} whose content is a float wins', () => expect(d1ParseGsm8k('\\boxed{12} then \\boxed{13}')).toBe(12));
  it('boxed: content stripped, then float() semantics (1e3, .5, 1_000)', () => {
    expect(d1ParseGsm8k('\\boxed{ 1e3 }')).toBe(1000);
    expect(d1ParseGsm8k('\\boxed{.5}')).toBe(0.5);
    expect(d1ParseGsm8k('\\boxed{1_000}')).toBe(1000);
  });
  it('boxed: not a float -> its FIRST number (-?\\d+\\.?\\d*), commas not removed', () => {
    expect(d1ParseGsm8k('\\boxed{$1,080}')).toBe(1);
    expect(d1ParseGsm8k('\\boxed{x = -3.5 or 7}')).toBe(-3.5);
  });
  it('boxed: empty, "..." and all-dot contents are skipped, and so is one without a number', () => {
    expect(d1ParseGsm8k('\\boxed{} \\boxed{...} \\boxed{....} \\boxed{none} \\boxed{4}')).toBe(4);
  });
  it('boxed: the content ends at the first "}" and cannot span a line', () => {
    expect(d1ParseGsm8k('\\boxed{\\frac{1}{2}}')).toBe(1);
    expect(d1ParseGsm8k('\\boxed{1\n2} <answer>9</answer>')).toBe(9);
  });
  it('answer: the FIRST closed <answer> block (DOTALL), stripped, as a float', () => {
    expect(d1ParseGsm8k('<answer>\n 42 \n</answer> <answer>7</answer>')).toBe(42);
  });
  it('answer: not a float -> its LAST number', () => expect(d1ParseGsm8k('<answer>3 apples and 5 pears</answer>')).toBe(5));
  it('answer: an unclosed <answer> is not read; an empty one gives None', () => {
    expect(d1ParseGsm8k('<answer>42')).toBeNull();
    expect(d1ParseGsm8k('<answer>  </answer>')).toBeNull();
    expect(d1ParseGsm8k('<answer>none</answer>')).toBeNull();
  });
  it('correct: float equality with the gold; commas in the prediction are not removed', () => {
    expect(d1Gsm8kCorrect(d1ParseGsm8k('<answer>1,080</answer>'), 1080)).toBe(false); // last number: 080 -> 80
    expect(d1Gsm8kCorrect(d1ParseGsm8k('<answer>1080.0</answer>'), 1080)).toBe(true);
    expect(d1Gsm8kCorrect(null, null)).toBe(false);
  });
  it('Unicode digits count as \\d, as in Python', () => expect(d1ParseGsm8k('\\boxed{x \u0664\u0662}')).toBe(42));
});

describe('lenient GSM8K (the project scorer) fixes the two plain bugs', () => {
  it('\\boxed{1e3} is 1000 and \\boxed{.5} is 0.5', () => {
    expect(parseGsm8kEval('\\boxed{1e3}')).toBe(1000);
    expect(parseGsm8kEval('\\boxed{.5}')).toBe(0.5);
  });
});

describe('MATH: parse_math_answers, last_boxed_only_string, remove_boxed, strip_string, is_equiv', () => {
  it('last \\boxed{} with nested braces', () => expect(d1MathAnswer('\\boxed{1} then \\boxed{\\frac{1}{2}}')).toBe('\\frac{1}{2}'));
  it('"\\boxed " form: the text after the last "\\boxed " up to "$"', () => expect(d1MathAnswer('so $\\boxed 5$.')).toBe('5'));
  it('\\fbox{} is returned with its command (remove_boxed leaves it)', () => expect(d1MathAnswer('\\fbox{3}')).toBe('\\fbox{3}'));
  it('no \\boxed at all: the WHOLE completion is the answer (no <answer> fallback)', () => expect(d1MathAnswer('<answer>3</answer>')).toBe('<answer>3</answer>'));
  it('an unclosed \\boxed{ raises: the first <answer> block instead', () => expect(d1MathAnswer('<answer> 3 </answer> \\boxed{3')).toBe('3'));
  it('an empty \\boxed{} falls back to <answer>; without one the answer stays ""', () => {
    expect(d1MathAnswer('\\boxed{} <answer>4</answer>')).toBe('4');
    expect(d1MathAnswer('\\boxed{}')).toBe('');
  });
  it('helpers: unclosed -> null, remove_boxed of other text unchanged', () => {
    expect(lastBoxedOnlyString('\\boxed{1')).toBeNull();
    expect(removeBoxed('\\boxed{x}')).toBe('x');
    expect(removeBoxed('x}')).toBe('x}');
  });
  it('strip_string: fractions, sqrt, units, "x =" prefixes, 0.5, a/b', () => {
    expect(stripStringD1('\\dfrac12')).toBe('\\frac{1}{2}');
    expect(stripStringD1('\\sqrt3')).toBe('\\sqrt{3}');
    expect(stripStringD1('5\\text{ cm}')).toBe('5');
    expect(stripStringD1('x = .5')).toBe('\\frac{1}{2}');
    expect(stripStringD1('3/4')).toBe('\\frac{3}{4}');
    expect(stripStringD1('10\\%')).toBe('10');
    expect(stripStringD1('10%')).toBe('10%'); // only "\%" is removed
  });
  it('is_equiv: equal after strip_string', () => expect(d1MathCorrect('\\left(3, \\frac12\\right)', '(3,\\frac{1}{2})')).toBe(true));
  it('is_equiv: strip_string raising falls back to raw equality', () => {
    expect(isEquivD1('a/b', 'a/b')).toBe(true); // int('a') raises ValueError
    expect(isEquivD1('a/b', ' a/b')).toBe(false);
    expect(isEquivD1('2\\sqrt', '2\\sqrt')).toBe(true); // IndexError on the trailing \sqrt
    expect(isEquivD1('1\\text{ a}\\text{ b}', '1')).toBe(false); // AssertionError: two "\text{ "
  });
});

describe('Countdown: parse_countdown_answers', () => {
  it('the last \\boxed{} content, LaTeX operators replaced', () => expect(d1CountdownEquation('\\boxed{(8 \\times 3) \\div 4}')).toBe('(8 * 3) / 4'));
  it('without \\boxed the whole completion is the equation', () => expect(d1CountdownEquation('<answer>1+2</answer>')).toBe('<answer>1+2</answer>'));
  it('an unclosed \\boxed{ falls back to the <answer> block, else the whole text', () => {
    expect(d1CountdownEquation('<answer> 1+2 </answer> \\boxed{')).toBe('1+2');
    expect(d1CountdownEquation('1+2 \\boxed{')).toBe('1+2 \\boxed{');
  });
  it('"expr = n": the left side only', () => expect(d1CountdownEquation('\\boxed{55 - 53 + 49 = 51}')).toBe('55 - 53 + 49'));
  it('numbers must be exactly the given multiset', () => {
    expect(d1CountdownCorrect('55 - 53 + 49', [49, 55, 53], 51).correct).toBe(true);
    expect(d1CountdownCorrect('55 - 53 + 49 + 1', [49, 55, 53], 52).correct).toBe(false);
  });
  it('characters outside digits, + - * / ( ) . and whitespace: wrong (Inf)', () => expect(d1CountdownCorrect('55 - 53 + 49 x', [49, 55, 53], 51)).toEqual({ correct: false, value: 'inf' }));
  it("Python's eval: ** and // count, leading zeros are a SyntaxError", () => {
    expect(d1CountdownCorrect('2 ** 3 + 1', [1, 2, 3], 9).correct).toBe(true);
    expect(d1CountdownCorrect('7 // 2 + 1', [1, 2, 7], 4).correct).toBe(true);
    expect(d1CountdownCorrect('05 + 1', [1, 5], 6).correct).toBe(false);
  });
  it('|value - target| < 1e-5', () => expect(d1CountdownCorrect('10 / 3 * 3', [3, 3, 10], 10).correct).toBe(true));
});

describe('Sudoku: parse_sudoku_answers (five patterns, first that matches)', () => {
  const puzzle = '1200340000000000';
  const solution = '1243342143122134';
  it('1: a code fence inside <answer>', () => expect(d1SudokuAnswer('<answer>\n```\n1243 3421\n4312 2134\n```</answer>')).toBe(solution));
  it('2: the FIRST <answer>, to </answer> or an end-of-text token (so unclosed counts before <|eot_id|>)', () => {
    expect(d1SudokuAnswer('<answer>1111</answer><answer>2222</answer>')).toBe('1111');
    expect(d1SudokuAnswer('<answer>12 43<|eot_id|>')).toBe('1243');
  });
  it('3: after </answer> up to a token or the end (Python $: before a final newline)', () => expect(d1SudokuAnswer('</answer> 9999\n')).toBe('9999'));
  it('4: 16 digits before </answer>', () => expect(d1SudokuAnswer(`x${solution} </answer>`)).toBe(solution));
  it('5: a lone run of exactly 16 digits (the compact template)', () => {
    expect(d1SudokuAnswer(solution)).toBe(solution);
    expect(d1SudokuAnswer(solution + '1')).toBe(''); // 17 digits: no word boundary after 16
  });
  it('blank groups are skipped; whitespace removed; non-digits kept', () => {
    expect(d1SudokuAnswer(`<answer> </answer> ${solution}`)).toBe(solution);
    expect(d1SudokuAnswer('<answer>1,2,4,3</answer>')).toBe('1,2,4,3');
  });
  it('cells: pad with 0 / cut to 16; only empty cells count; solved = all 16 right', () => {
    expect(d1SudokuCells(solution, puzzle, solution)).toEqual({ answer: solution, correct: 12, empty: 12, solved: true });
    expect(d1SudokuCells('<answer>1243</answer>', puzzle, solution)).toMatchObject({ correct: 2, empty: 12, solved: false });
    expect(d1SudokuCells('nothing', puzzle, solution)).toMatchObject({ answer: '', correct: 0 });
  });
});

describe("Sudoku reward: d1's extract_answer_sudoku + validate_sudoku_solution", () => {
  const puzzle = '1200340000000000';
  const solution = '1243342143122134';
  const rows = [{ puzzle, solution }];
  it('the digits of the LAST closed <answer> block', () => {
    expect(d1SudokuReward(`<answer>0000</answer><answer>${solution}</answer>`, puzzle, solution).score).toBe(1);
    expect(d1SudokuReward('<answer>1,2,4,3</answer>', puzzle, solution).score).toBeCloseTo(2 / 12, 12); // digits kept: 1243
  });
  it('no closed block, or no digit in it: 0', () => {
    expect(d1SudokuReward(`<answer>${solution}`, puzzle, solution).score).toBe(0);
    expect(d1SudokuReward('<answer>none</answer>', puzzle, solution).score).toBe(0);
  });
  it('a puzzle without empty cells: 0', () => expect(d1SudokuReward(`<answer>${solution}</answer>`, solution, solution).score).toBe(0));
  it('credit: 1/empty at each right digit, summing to the score', () => {
    const c = `<answer> ${solution}</answer>`;
    const { score, credit } = d1SudokuReward(c, puzzle, solution);
    expect(credit.reduce((a, x) => a + x.value, 0)).toBeCloseTo(score, 12);
    expect(c[credit[0].at]).toBe(solution[2]);
    // A wrong digit at cell 3 is judged (value 0), a clue cell gets no entry, and the 10 empty cells after the 4th
    // digit, never written, are judged wrong at the completion's end.
    const w = `<answer>12${solution[2]}${solution[3] === '1' ? '2' : '1'}</answer>`;
    expect(d1SudokuReward(w, puzzle, solution).credit).toEqual([{ at: w.indexOf('>') + 3, value: 1 / 12 }, { at: w.indexOf('>') + 4, value: 0 }, ...Array(10).fill({ at: w.length, value: 0 })]);
    // No closed block: every empty cell judged wrong at the end.
    expect(d1SudokuReward(`<answer>${solution}`, puzzle, solution).credit).toEqual(Array(12).fill({ at: solution.length + 8, value: 0 }));
  });
  it('the built-in reward: lenient by default (bare digits score), args.parser d1 gives 0 without a closed block', () => {
    expect(sudokuReward({ completions: [solution], rows })[0].reward).toBe(1);
    expect(sudokuReward({ completions: [solution], rows, args: { parser: 'd1' } })[0].reward).toBe(0);
    expect(() => sudokuReward({ completions: [solution], rows, args: { parser: 'strict' } })).toThrow(/args.parser/);
  });
});
