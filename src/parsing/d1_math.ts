/**
 * d1's MATH answer helpers, ported line by line from eval/parser_helper.py (Hendrycks et al.'s MATH `is_equiv`):
 * `last_boxed_only_string`, `remove_boxed`, `strip_string` and `is_equiv`, with Python's exceptions kept: where the
 * Python raises (an IndexError on a trailing "\sqrt" or "\frac", an AssertionError on two "\text{ ", a ValueError
 * from `int()` in `fix_a_slash_b`), `is_equiv` falls back to comparing the raw strings, as d1's does. The project's
 * lenient normaliser is rewards/math.ts `stripString` (regex-based; it also drops a bare '%').
 */
import { codePoints, pythonInt } from './python_text.ts';

/** Python raised inside strip_string or remove_boxed. */
class PythonRaise extends Error {}

/** d1's last_boxed_only_string: "\boxed{…}" (braces balanced) or "\fbox{…}"; the whole string when neither; null when unclosed. */
export function lastBoxedOnlyString(s: string): string | null {
  let idx = s.lastIndexOf('\\boxed');
  if (s.includes('\\boxed ')) return '\\boxed ' + s.split('\\boxed ').pop()!.split('$')[0];
  if (idx < 0) {
    idx = s.lastIndexOf('\\fbox');
    if (idx < 0) return s;
  }
  let open = 0;
  for (let i = idx; i < s.length; i++) {
    if (s[i] === '{') open++;
    if (s[i] === '}') {
      open--;
      if (open === 0) return s.slice(idx, i + 1);
    }
  }
  return null;
}

/** d1's remove_boxed: the inside of "\boxed{…}" / after "\boxed "; anything else unchanged. Throws where Python raises. */
export function removeBoxed(s: string | null): string {
  if (s === null) throw new PythonRaise('TypeError: argument of type NoneType is not iterable');
  if (s.includes('\\boxed ')) {
    if (!s.startsWith('\\boxed ')) throw new PythonRaise('AssertionError');
    return s.slice('\\boxed '.length);
  }
  return s.startsWith('\\boxed{') && s.endsWith('}') ? s.slice('\\boxed{'.length, -1) : s;
}

/** `remove_boxed(last_boxed_only_string(s))`, or null where d1's bare `except:` catches. */
export function boxedOrWhole(s: string): string | null {
  try {
    return removeBoxed(lastBoxedOnlyString(s));
  } catch (e) {
    if (e instanceof PythonRaise) return null;
    throw e;
  }
}

function fixFracs(string: string): string {
  const substrs = string.split('\\frac');
  let out = substrs[0];
  for (const substr of substrs.slice(1)) {
    out += '\\frac';
    const cps = codePoints(substr);
    if (cps.length === 0) throw new PythonRaise('IndexError'); // substr[0]
    if (cps[0] === '{') out += substr;
    else {
      if (cps.length < 2) return string;
      const [a, b] = cps;
      const post = cps.slice(2).join('');
      out += b !== '{' ? `{${a}}{${b}}${post}` : `{${a}}${b}${post}`;
    }
  }
  return out;
}

function fixASlashB(string: string): string {
  const parts = string.split('/');
  if (parts.length !== 2) return string;
  const a = pythonInt(parts[0]);
  const b = pythonInt(parts[1]);
  if (a === null || b === null) throw new PythonRaise('ValueError'); // only AssertionError is caught there
  return string === `${a}/${b}` ? `\\frac{${a}}{${b}}` : string;
}

function removeRightUnits(string: string): string {
  if (!string.includes('\\text{ ')) return string;
  const splits = string.split('\\text{ ');
  if (splits.length !== 2) throw new PythonRaise('AssertionError');
  return splits[0];
}

function fixSqrt(string: string): string {
  if (!string.includes('\\sqrt')) return string;
  const splits = string.split('\\sqrt');
  let out = splits[0];
  for (const split of splits.slice(1)) {
    const cps = codePoints(split);
    if (cps.length === 0) throw new PythonRaise('IndexError'); // split[0]
    out += cps[0] !== '{' ? `\\sqrt{${cps[0]}}${cps.slice(1).join('')}` : `\\sqrt${split}`;
  }
  return out;
}

/** d1's strip_string (throws where Python raises). */
export function stripStringD1(input: string): string {
  let s = input.replaceAll('\n', '').replaceAll('\\!', '').replaceAll('\\\\', '\\');
  s = s.replaceAll('tfrac', 'frac').replaceAll('dfrac', 'frac').replaceAll('\\left', '').replaceAll('\\right', '');
  s = s.replaceAll('^{\\circ}', '').replaceAll('^\\circ', '').replaceAll('\\$', '');
  s = removeRightUnits(s);
  s = s.replaceAll('\\%', ''); // d1 also replaces "\%", the same two characters in a non-raw Python string
  s = s.replaceAll(' .', ' 0.').replaceAll('{.', '{0.');
  if (s.length === 0) return s;
  if (s[0] === '.') s = '0' + s;
  const eq = s.split('=');
  if (eq.length === 2 && codePoints(eq[0]).length <= 2) s = eq[1];
  s = fixSqrt(s);
  s = s.replaceAll(' ', '');
  s = fixFracs(s);
  if (s === '0.5') s = '\\frac{1}{2}';
  return fixASlashB(s);
}

/** d1's is_equiv for two strings: equal after strip_string, or equal as given when strip_string raises. */
export function isEquivD1(a: string | null, b: string | null): boolean {
  if (a === null && b === null) return true;
  if (a === null || b === null) return false;
  try {
    return stripStringD1(a) === stripStringD1(b);
  } catch (e) {
    if (e instanceof PythonRaise) return a === b;
    throw e;
  }
}
