/**
 * Python's text semantics that d1's eval parsers depend on, for a faithful TypeScript port (parsers_d1.ts):
 * `float(s)`, `int(s)`, `str.strip()`, and the character classes of Python's `re` on str patterns, whose `\s`, `\d`
 * and `\b` are Unicode-aware where JavaScript's are ASCII. Python indexes strings by code point, JavaScript by UTF-16
 * unit: callers that index or measure use `codePoints()`.
 *
 * Deviation: JavaScript's Unicode tables (`\p{Nd}`, `\p{L}`, `\p{N}`) follow Node's ICU version, Python's its own
 * Unicode database; they differ only for characters added in between.
 */

/** Python's whitespace (`str.isspace`, `re`'s `\s`, `str.strip()`): unlike JS `\s`, it has \x1c-\x1f and \x85 and not \ufeff. */
export const PY_SPACE = '\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
/** Python `re`'s `\d` on str patterns: any Unicode decimal digit (use with the `u` flag). */
export const PY_DIGIT = '\\p{Nd}';
/** Python `re`'s `\w` on str patterns: letters, numbers and the underscore (use with the `u` flag). */
export const PY_WORD = '\\p{L}\\p{N}_';
/** Python `re`'s `\b`, as a JS pattern fragment (use with the `u` flag). */
export const PY_BOUNDARY = `(?:(?<=[${PY_WORD}])(?![${PY_WORD}])|(?<![${PY_WORD}])(?=[${PY_WORD}]))`;

const isPySpace = new RegExp(`^[${PY_SPACE}]$`);
const stripRe = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'g');

/** Python's `s.strip()` with no argument. */
export function pyStrip(s: string): string {
  return s.replace(stripRe, '');
}

/** The string as Python sees it: one element per code point. */
export function codePoints(s: string): string[] {
  return Array.from(s);
}

const isNd = /^\p{Nd}$/u;
/**
 * The value 0-9 of a Unicode decimal digit (Nd), else -1. Unicode keeps every run of Nd characters in blocks of ten
 * consecutive code points starting at zero, so the value is the distance from the start of the run, modulo 10.
 */
export function decimalValue(ch: string): number {
  if (!isNd.test(ch)) return -1;
  let cp = ch.codePointAt(0)!;
  let n = 0;
  while (isNd.test(String.fromCodePoint(cp - 1))) {
    cp--;
    n++;
  }
  return n % 10;
}

/**
 * CPython's `_PyUnicode_TransformDecimalAndSpaceToASCII`, the first step of `float()` and `int()`: ASCII stays,
 * non-ASCII whitespace becomes ' ', non-ASCII decimal digits become their ASCII digit, anything else '?' (invalid).
 */
function toAsciiNumber(s: string): string {
  let out = '';
  for (const ch of s) {
    if (ch.charCodeAt(0) < 128) out += ch;
    else if (isPySpace.test(ch)) out += ' ';
    else {
      const d = decimalValue(ch);
      out += d >= 0 ? String(d) : '?';
    }
  }
  return out;
}

/** After the transform, float() and int() strip ASCII whitespace only (so '1\x1c' is rejected, '1\xa0' accepted). */
const asciiStrip = (s: string) => s.replace(/^[ \t\n\r\x0b\x0c]+|[ \t\n\r\x0b\x0c]+$/g, '');

const DIGITS = '\\d(?:_?\\d)*'; // digitpart: underscores only between digits
const FLOAT_RE = new RegExp(`^[+-]?(?:(?:${DIGITS}(?:\\.(?:${DIGITS})?)?|\\.${DIGITS})(?:[eE][+-]?${DIGITS})?|inf|infinity|nan)$`, 'i');

/**
 * Python's `float(s)` for a str: the number, or null where Python raises ValueError. Accepts surrounding whitespace,
 * a sign, underscores between digits, '1.', '.5', exponents, 'inf'/'infinity'/'nan' in any case, and non-ASCII
 * decimal digits; rejects '', '.', 'e5', '1e', '1_', '0x10', '1 000', '+-1'. Rounding is the same (both are correctly
 * rounded); overflow gives ±Infinity in both.
 */
export function pythonFloat(s: string): number | null {
  const t = asciiStrip(toAsciiNumber(s));
  if (!FLOAT_RE.test(t)) return null;
  const body = t.replace(/_/g, '');
  const lower = body.toLowerCase().replace(/^[+-]/, '');
  const sign = body.startsWith('-') ? -1 : 1;
  if (lower === 'nan') return NaN;
  if (lower === 'inf' || lower === 'infinity') return sign * Infinity;
  return Number(body);
}

/** Python's `int(s)` for a str in base 10: the integer, or null where Python raises ValueError. */
export function pythonInt(s: string): bigint | null {
  const t = asciiStrip(toAsciiNumber(s));
  if (!new RegExp(`^[+-]?${DIGITS}$`).test(t)) return null;
  return BigInt(t.replace(/_/g, ''));
}
