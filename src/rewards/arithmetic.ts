/**
 * A tiny recursive-descent evaluator for + - * / and parentheses over decimal numbers — what Countdown answers need,
 * without ever calling eval() on model output. Returns null for anything else (letters, `**`, empty input, ...).
 *   expr   := term (('+' | '-') term)*
 *   term   := factor (('*' | '/') factor)*
 *   factor := ('+' | '-') factor | number | '(' expr ')'
 */
export function evaluateArithmetic(text: string): number | null {
  const src = text;
  let i = 0;
  // Whitespace separates tokens but never joins them: "3 4" is an error (as in Python), not 34.
  const peek = () => {
    while (i < src.length && /\s/.test(src[i])) i++;
    return src[i];
  };
  function expr(): number | null {
    let v = term();
    while (v !== null && (peek() === '+' || peek() === '-')) {
      const op = src[i++];
      const r = term();
      if (r === null) return null;
      v = op === '+' ? v + r : v - r;
    }
    return v;
  }
  function term(): number | null {
    let v = factor();
    while (v !== null && (peek() === '*' || peek() === '/')) {
      const op = src[i++];
      if (peek() === '*' || peek() === '/') return null; // `**` and `//` are not arithmetic here
      const r = factor();
      if (r === null) return null;
      v = op === '*' ? v * r : v / r;
    }
    return v;
  }
  function factor(): number | null {
    const c = peek();
    if (c === '+' || c === '-') {
      i++;
      const v = factor();
      return v === null ? null : c === '-' ? -v : v;
    }
    if (c === '(') {
      i++;
      const v = expr();
      if (v === null || peek() !== ')') return null;
      i++;
      return v;
    }
    if (peek() === undefined) return null;
    const m = /^\d+(\.\d+)?/.exec(src.slice(i));
    if (!m) return null;
    i += m[0].length;
    return Number(m[0]);
  }
  const v = expr();
  return v !== null && peek() === undefined && Number.isFinite(v) ? v : null;
}
