import { describe, expect, it } from 'vitest';
import { DataError } from '../../src/errors.ts';
import { readCsv, readJsonl } from '../../src/data/index.ts';
import { formatExample, formatPrompt, parseGsm8kAnswer, SYSTEM_PROMPT } from '../../src/tokenizer/templates.ts';
import { dataPath } from '../paths.ts';

describe('templates', () => {
  it('sudoku: puzzle= then the bare solution digits (test-file column names accepted)', () => {
    const row = { puzzle: '3102200002100320', solution: '3142243142131324' };
    expect(formatExample('sudoku', row)).toEqual({ prompt: '3102200002100320=', answer: '3142243142131324' });
    const csvRow = readCsv(dataPath('sudoku/4x4_test_sudoku.csv'))[0];
    expect(formatExample('sudoku', csvRow)).toEqual({ prompt: '3102200002100320=', answer: '3142243142131324' });
    expect(() => formatExample('sudoku', { puzzle: '3102200002100320' })).toThrow(DataError);
    expect(() => formatPrompt('sudoku', { puzzle: '31022' })).toThrow(/16 digits/);
  });

  it('countdown: numbers->target: then the expression; test-file rows get a solver answer', () => {
    expect(formatExample('countdown', { numbers: [2, 3, 4], target: 5, solution: '2*4-3' })).toEqual({ prompt: '002,003,004->005:', answer: '<answer>2*4-3</answer>' });
    const first = readJsonl(dataPath('countdown/countdown_cd3_test.jsonl'), { limit: 1 })[0];
    expect(formatExample('countdown', first)).toEqual({ prompt: '030,100,093->023:', answer: '<answer>30+93-100</answer>' });
    expect(() => formatPrompt('countdown', { input: '1,2' })).toThrow(DataError);
  });

  it('gsm8k: d1 system prompt + question; XML reasoning/answer with calculator annotations removed', () => {
    expect(SYSTEM_PROMPT).toBe('\nRespond in the following format:\n<reasoning>\n...\n</reasoning>\n<answer>\n...\n</answer>\n');
    const row = {
      question: 'Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?',
      answer: 'Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72',
    };
    const ex = formatExample('gsm8k', row);
    expect(ex.prompt).toBe(SYSTEM_PROMPT + '\n\n' + row.question);
    expect(ex.answer).toBe(
      '<reasoning>\nNatalia sold 48/2 = 24 clips in May.\nNatalia sold 48+24 = 72 clips altogether in April and May.\n</reasoning>\n<answer>\n72\n</answer>\n',
    );
    // d1's strict format regex (without DOTALL) accepts single-line reasoning in this layout
    const strict = /^<reasoning>\n.*?\n<\/reasoning>\n<answer>\n.*?\n<\/answer>\n$/;
    expect(strict.test(formatExample('gsm8k', { question: 'q', answer: 'One line <<1+1=2>>2.\n#### 2' }).answer)).toBe(true);
    expect(parseGsm8kAnswer('so 1,080 total\n#### 1,080')).toEqual({ reasoning: 'so 1,080 total', answer: '1,080' });
    expect(() => parseGsm8kAnswer('no final line')).toThrow(DataError);
    expect(() => formatExample('gsm8k', { question: 'q' })).toThrow(/field 'answer' is missing/);
  });

  it('every GSM8K train row formats, with no calculator annotation left', () => {
    const rows = readJsonl(dataPath('gsm8k/train.jsonl'));
    for (const r of rows) {
      const { answer } = formatExample('gsm8k', r);
      expect(answer).not.toMatch(/<<|>>|####/);
    }
  });

  it('plain: prompt and answer as they are', () => {
    expect(formatExample('plain', { prompt: 'a ', answer: ' b' })).toEqual({ prompt: 'a ', answer: ' b' });
    expect(() => formatExample('plain', { prompt: 'a', answer: 3 })).toThrow(/not a string/);
  });
});
