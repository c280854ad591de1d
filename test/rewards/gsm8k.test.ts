import { describe, expect, it } from 'vitest';
import { extractXmlAnswer, gsm8kCorrectness, gsm8kGold, gsm8kInt, gsm8kSoftFormat, gsm8kStrictFormat, parseGsm8kEval, xmlCount } from '../../src/rewards/gsm8k.ts';

const good = '<reasoning>\nShe sold 48/2 = 24.\n</reasoning>\n<answer>\n72\n</answer>\n';
const multiLine = '<reasoning>\nline one\nline two\n</reasoning>\n<answer>\n72\n</answer>\n';
const call = (f: (a: { completions: string[]; rows: Record<string, unknown>[]; args?: Record<string, unknown> }) => number[], c: string, row: Record<string, unknown> = { answer: 'blah\n#### 72' }, args?: Record<string, unknown>) =>
  f({ completions: [c], rows: [row], args })[0];

describe('GSM8K rewards (d1)', () => {
  it('xmlcount: 0.125 per well-placed tag, minus 0.001 per trailing character', () => {
    expect(xmlCount(good)).toBeCloseTo(0.5, 10);
    // 3 characters after "\n</answer>\n" cost 0.003 in the third check and 4 - 1 = 3 in the fourth.
    expect(xmlCount(good + 'abc')).toBeCloseTo(0.5 - 0.003 - 0.003, 10);
    expect(xmlCount('<answer>72</answer>')).toBe(0);
  });

  it('soft and strict format: 0.5; d1_exact fails multi-line reasoning (no DOTALL), the default does not', () => {
    expect(call(gsm8kSoftFormat, good)).toBe(0.5);
    expect(call(gsm8kStrictFormat, good)).toBe(0.5);
    expect(call(gsm8kStrictFormat, good + 'x')).toBe(0);
    expect(call(gsm8kSoftFormat, 'text <reasoning>a</reasoning><answer>b</answer>')).toBe(0); // anchored at the start
    expect(call(gsm8kSoftFormat, multiLine)).toBe(0.5);
    expect(call(gsm8kStrictFormat, multiLine)).toBe(0.5);
    expect(call(gsm8kSoftFormat, multiLine, undefined, { d1_exact: true })).toBe(0);
    expect(call(gsm8kStrictFormat, multiLine, undefined, { d1_exact: true })).toBe(0);
  });

  it('int: 0.5 for an integer answer; d1_exact rejects negatives like isdigit', () => {
    expect(call(gsm8kInt, good)).toBe(0.5);
    expect(call(gsm8kInt, '<answer>-3</answer>')).toBe(0.5);
    expect(call(gsm8kInt, '<answer>-3</answer>', undefined, { d1_exact: true })).toBe(0);
    expect(call(gsm8kInt, '<answer>2.5</answer>')).toBe(0);
  });

  it('correctness: 2.0 for the gold number; d1_exact compares strings', () => {
    expect(call(gsm8kCorrectness, good)).toBe(2);
    expect(call(gsm8kCorrectness, '<answer>\n71\n</answer>')).toBe(0);
    const row = { answer: 'x\n#### 1,080' };
    expect(call(gsm8kCorrectness, '<answer>1080</answer>', row)).toBe(2);
    expect(call(gsm8kCorrectness, '<answer>1080</answer>', row, { d1_exact: true })).toBe(0);
    expect(call(gsm8kCorrectness, '<answer>1,080</answer>', row, { d1_exact: true })).toBe(2);
    expect(call(gsm8kCorrectness, '<answer>$1,080.00</answer>', row)).toBe(2);
  });

  it('extracts the last <answer> and the gold after ####', () => {
    expect(extractXmlAnswer('<answer>1</answer><answer> 2 </answer>')).toBe('2');
    expect(gsm8kGold({ answer: 'Natalia sold...\n#### 72' })).toBe('72');
    expect(gsm8kGold({ answer: '15' })).toBe('15');
  });
});

describe('parseGsm8kEval (d1 eval parsing)', () => {
  it('first \\boxed{} that parses as a number', () => {
    expect(parseGsm8kEval('so \\boxed{1,234} and \\boxed{5}')).toBe(1234);
    expect(parseGsm8kEval('\\boxed{x} \\boxed{7}')).toBe(7);
    expect(parseGsm8kEval('\\boxed{$18 dollars}')).toBe(18); // first number inside
  });
  it('falls back to the <answer> content, else its last number', () => {
    expect(parseGsm8kEval('<answer>\n-3.5\n</answer>')).toBe(-3.5);
    expect(parseGsm8kEval('<answer>It is 5 apples and 6 pears</answer>')).toBe(6);
    expect(parseGsm8kEval('<answer>$1,000</answer>')).toBe(1000);
  });
  it('null when there is no answer', () => {
    expect(parseGsm8kEval('I do not know')).toBeNull();
    expect(parseGsm8kEval('<answer>none</answer>')).toBeNull();
  });
});
