import { describe, expect, it } from 'vitest';
import { lastBoxed, mathBoxed, mathEquivalent, mathFormat, stripString } from '../../src/rewards/math.ts';

describe('MATH answer extraction and equivalence', () => {
  it('lastBoxed handles nesting and takes the last box', () => {
    expect(lastBoxed('a \\boxed{1} b \\boxed{\\frac{1}{2}}')).toBe('\\frac{1}{2}');
    expect(lastBoxed('\\boxed 5$')).toBe('5');
    expect(lastBoxed('no box')).toBeNull();
    expect(lastBoxed('\\boxed{unclosed')).toBeNull();
  });
  it('stripString normalises like Hendrycks: fractions, sqrt, spaces, units, x =', () => {
    expect(stripString('\\dfrac12')).toBe('\\frac{1}{2}');
    expect(stripString('0.5')).toBe('\\frac{1}{2}');
    expect(stripString('3/4')).toBe('\\frac{3}{4}');
    expect(stripString('\\sqrt3')).toBe('\\sqrt{3}');
    expect(stripString('x = 5')).toBe('5');
    expect(stripString('10\\%')).toBe('10');
    expect(stripString('\\left( 1, 2 \\right)')).toBe('(1,2)');
    expect(stripString('90^\\circ')).toBe('90');
  });
  it('equivalence after normalisation', () => {
    expect(mathEquivalent('\\tfrac{1}{2}', '0.5')).toBe(true);
    expect(mathEquivalent('2', '3')).toBe(false);
    expect(mathEquivalent(null, '3')).toBe(false);
  });
});

describe('MATH rewards', () => {
  const rows = [{ answer: '\\frac{1}{2}' }];
  it('math_boxed: 2.0 for an equivalent last box', () => {
    expect(mathBoxed({ completions: ['<answer>\\boxed{\\dfrac12}</answer>'], rows })).toEqual([2]);
    expect(mathBoxed({ completions: ['\\boxed{1/3}'], rows })).toEqual([0]);
  });
  it('math_format: 1.0 with tags and a box, 0.75 tags only, 0 without tags; d1_exact caps at 0.75', () => {
    expect(mathFormat({ completions: ['<answer>\\boxed{1}</answer>', '<answer>1</answer>', '\\boxed{1}'], rows: [{}, {}, {}] })).toEqual([1, 0.75, 0]);
    expect(mathFormat({ completions: ['<answer>\\boxed{1}</answer>'], rows: [{}], args: { d1_exact: true } })).toEqual([0.75]);
  });
});
