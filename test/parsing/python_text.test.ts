/** Python's float(), int(), str.strip() and eval() of arithmetic, as d1's parsers use them (expected values: CPython 3.11). */
import { describe, expect, it } from 'vitest';
import { pythonEvalArithmetic, type PyValue } from '../../src/parsing/python_arith.ts';
import { codePoints, decimalValue, pyStrip, pythonFloat, pythonInt } from '../../src/parsing/python_text.ts';

describe('pythonFloat = float(s)', () => {
  const accepted: [string, number][] = [
    ['1', 1], [' 1.5\n', 1.5], ['1_000', 1000], ['1e1_0', 1e10], ['+.5', 0.5], ['5.', 5], ['-0.25', -0.25], ['1e+5', 1e5],
    ['1E-5', 1e-5], ['inf', Infinity], ['-Infinity', -Infinity], ['+INF', Infinity], ['1e400', Infinity],
    ['\u0661\u0662', 12], ['\u0661.\u0665', 1.5], ['\u00a07\u3000', 7], ['\t\x0b\x0c\r 3', 3], ['0012', 12],
  ];
  for (const [s, v] of accepted) it(`accepts ${JSON.stringify(s)} -> ${v}`, () => expect(pythonFloat(s)).toBe(v));
  it('accepts nan in any case', () => {
    expect(pythonFloat('nAn')).toBeNaN();
    expect(pythonFloat('+nan')).toBeNaN();
  });
  const rejected = ['', ' ', '.', 'e5', '1e', '1_', '_1', '1__0', '1_.5', '1._5', '1e_5', '0x10', '1.5j', '1 000', '+-1', 'infinit', '1\x1c', '\ufeff1', '1,000', '$5', '١٢x', '--1', '1.2.3'];
  for (const s of rejected) it(`rejects ${JSON.stringify(s)}`, () => expect(pythonFloat(s)).toBeNull());
});

describe('pythonInt, pyStrip, decimalValue, codePoints', () => {
  it('int(): whitespace, sign, underscores, Unicode digits, leading zeros; no decimal point', () => {
    expect(pythonInt(' -0_7 ')).toBe(-7n);
    expect(pythonInt('\u0663')).toBe(3n);
    expect(pythonInt('12345678901234567890')).toBe(12345678901234567890n);
    expect(pythonInt('1.0')).toBeNull();
    expect(pythonInt('')).toBeNull();
  });
  it("strip() removes Python's whitespace (\\x1c-\\x1f, \\x85; not \\ufeff)", () => {
    expect(pyStrip(' \x1c1\x85\ufeff ')).toBe('1\x85\ufeff');
    expect(pyStrip('\x1f\x85 a b\u3000')).toBe('a b');
  });
  it('decimal values of Unicode digits, including adjacent blocks', () => {
    expect(decimalValue('7')).toBe(7);
    expect(decimalValue('\u0669')).toBe(9); // Arabic-Indic nine
    expect(decimalValue('\u{1D7D9}')).toBe(1); // mathematical double-struck one (second of five adjacent blocks)
    expect(decimalValue('a')).toBe(-1);
  });
  it('code points, not UTF-16 units', () => expect(codePoints('a😀b')).toHaveLength(3));
});

describe('pythonEvalArithmetic = eval(s) on [\\d+\\-*/().\\s]', () => {
  const num = (v: PyValue) => (v.kind === 'int' ? Number(v.v) : v.kind === 'float' ? v.v : v.kind);
  const cases: [string, number | string][] = [
    ['1 + 2 * 3', 7], ['(1 + 2) * 3', 9], ['7 / 2', 3.5], ['7 // 2', 3], ['-7 // 2', -4], ['7.5 // 2', 3], ['-7.5 // 2', -4],
    ['2 ** 3 ** 2', 512], ['-2 ** 2', -4], ['2 ** -1', 0.5], ['3 - -3', 6], ['+-+5', -5], ['00', 0], ['05.5', 5.5], ['05.', 5], ['.5 + 1.', 1.5],
    ['(1\n+ 2)', 3], ['1\t+\f2', 3],
    // Python raises: d1 scores float('Inf')
    ['05', 'error'], ['1 .5', 'error'], ['1\n+2', 'error'], ['1\x0b+2', 'error'], ['1\u00a0+2', 'error'], ['\u0661+1', 'error'], ['1/0', 'error'],
    ['0 ** -1', 'error'], ['2()', 'error'], ['(1)(2)', 'error'], ['1.2.3', 'error'], ['2 * * 3', 'error'], ['(1', 'error'], ['', 'error'],
    // not numbers
    ['...', 'object'], ['()', 'object'], ['(-8) ** (1/3)', 'complex'],
  ];
  for (const [s, v] of cases) it(`${JSON.stringify(s)} -> ${v}`, () => expect(num(pythonEvalArithmetic(s))).toBe(v));
  it('integers are exact', () => {
    const v = pythonEvalArithmetic('3 ** 40 - 3 ** 40 + 1');
    expect(v).toEqual({ kind: 'int', v: 1n });
  });
});
