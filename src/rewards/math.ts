/**
 * MATH rewards and eval (d1 math500_utils.py, after Hendrycks et al.'s MATH `is_equiv`): the last \boxed{…} of the
 * completion, normalised with `stripString`, must equal the normalised gold answer.
 *   math_boxed  2.0 when equivalent
 *   math_format 0.5 × (1 + (1 if "\boxed" appears else 0.5)) when the completion has <answer>…</answer>, else 0.
 *               d1 wrote "\boxed" in a non-raw Python string, where "\b" is a backspace, so its check never matches
 *               and its format reward tops out at 0.75; `args.d1_exact: true` reproduces that.
 */
type Args = { completions: string[]; rows: Record<string, unknown>[]; args?: Record<string, unknown> };

/** Content of the last \boxed{…} (nested braces allowed) or `\boxed x`, else null. */
export function lastBoxed(s: string): string | null {
  const i = s.lastIndexOf('\\boxed');
  if (i < 0) return null;
  let j = i + '\\boxed'.length;
  if (s[j] === ' ') return s.slice(j + 1).split('$')[0].trim();
  if (s[j] !== '{') return null;
  let depth = 0;
  for (let k = j; k < s.length; k++) {
    if (s[k] === '{') depth++;
    else if (s[k] === '}' && --depth === 0) return s.slice(j + 1, k);
  }
  return null;
}

/** Hendrycks' strip_string: drop spacing/units/\left\right, canonicalise fractions, sqrt, "x = " prefixes, 0.5. */
export function stripString(input: string): string {
  let s = input.replace(/\n/g, '').replace(/\\!/g, '').replace(/\\\\/g, '\\').replace(/tfrac|dfrac/g, 'frac');
  s = s.replace(/\\left/g, '').replace(/\\right/g, '').replace(/\^\{\\circ\}/g, '').replace(/\^\\circ/g, '');
  s = s.replace(/\\\$/g, '');
  const unit = s.indexOf('\\text{ ');
  if (unit >= 0) s = s.slice(0, unit); // remove_right_units
  s = s.replace(/\\%/g, '').replace(/%/g, '').replace(/ \./g, ' 0.').replace(/\{\./g, '{0.');
  if (s.length === 0) return s;
  if (s[0] === '.') s = '0' + s;
  const eq = s.split('=');
  if (eq.length === 2 && eq[0].length <= 2) s = eq[1];
  s = s.replace(/\\sqrt(\w)/g, '\\sqrt{$1}'); // fix_sqrt
  s = s.replace(/ /g, '');
  s = s.replace(/\\frac(\d)(\d)/g, '\\frac{$1}{$2}').replace(/\\frac\{([^{}]*)\}(\d)/g, '\\frac{$1}{$2}').replace(/\\frac(\d)\{/g, '\\frac{$1}{'); // fix_fracs
  if (s === '0.5') s = '\\frac{1}{2}';
  const ab = /^(-?\d+)\/(\d+)$/.exec(s); // fix_a_slash_b
  if (ab) s = `\\frac{${ab[1]}}{${ab[2]}}`;
  return s;
}

export function mathEquivalent(a: string | null, b: string | null): boolean {
  if (a === null || b === null) return false;
  return stripString(a) === stripString(b);
}

export function mathBoxed(a: Args): number[] {
  return a.completions.map((c, i) => (mathEquivalent(lastBoxed(c), String(a.rows[i].answer ?? '')) ? 2.0 : 0));
}

export function mathFormat(a: Args): number[] {
  const exact = a.args?.d1_exact === true;
  return a.completions.map((c) => {
    if (!/<answer>[\s\S]*<\/answer>/.test(c)) return 0;
    const boxed = !exact && c.includes('\\boxed');
    return 0.5 * (1 + (boxed ? 1 : 0.5));
  });
}
