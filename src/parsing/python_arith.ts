/**
 * What Python's `eval(s, {"__builtins__": None}, {})` returns for the strings d1's Countdown scorer lets through
 * (`^[\d+\-*\/().\s]+$`), without eval: a small parser for Python's grammar over those characters and Python's
 * number semantics — exact integers (BigInt), floats, `/` true division, `//` floor division, `**` (right-associative,
 * binding tighter than a unary minus on its left), calls (`2(3)`: TypeError), `...` (Ellipsis) and `()` (a tuple).
 *
 * The result is a number kind or `error` (what d1 maps to float('Inf') by catching the exception):
 *   SyntaxError — leading zeros ('05'), adjacent numbers ('1 .5'), a line break outside parentheses, non-ASCII digits
 *                 or spaces; ZeroDivisionError; OverflowError (int too large for a float); TypeError.
 * Deviations (README "Evaluation"): a negative number to a fractional power is complex in Python; it is returned as
 * `complex` without its value. An integer power whose result would exceed 2^20 bits is an `error` here (Python
 * computes it, for minutes or forever). int / int with operands beyond 2^53 may round differently in the last bit.
 */
export type PyValue =
  | { kind: 'int'; v: bigint }
  | { kind: 'float'; v: number }
  | { kind: 'complex' }
  | { kind: 'object' } // Ellipsis or a tuple: legal to produce, a TypeError in arithmetic
  | { kind: 'error' };

class PyError extends Error {}
const MAX_POW_BITS = 1 << 20;

const toFloat = (x: PyValue): number => {
  if (x.kind === 'float') return x.v;
  if (x.kind === 'int') {
    const f = Number(x.v);
    if (!Number.isFinite(f)) throw new PyError('OverflowError');
    return f;
  }
  throw new PyError('TypeError');
};
const int = (v: bigint): PyValue => ({ kind: 'int', v });
const float = (v: number): PyValue => ({ kind: 'float', v });

/** Python's float floor division (float_floor_div via float_divmod). */
function floatFloorDiv(vx: number, wx: number): number {
  if (wx === 0) throw new PyError('ZeroDivisionError');
  let mod = vx % wx; // fmod
  let div = (vx - mod) / wx;
  if (mod && wx < 0 !== mod < 0) {
    mod += wx;
    div -= 1;
  }
  if (!div) return Object.is(vx / wx, -0) || vx / wx < 0 ? -0 : 0;
  let floordiv = Math.floor(div);
  if (div - floordiv > 0.5) floordiv += 1;
  return floordiv;
}

function binary(op: string, a: PyValue, b: PyValue): PyValue {
  if (a.kind === 'object' || b.kind === 'object') throw new PyError('TypeError');
  if (a.kind === 'complex' || b.kind === 'complex') {
    if (op === '//') throw new PyError('TypeError');
    return { kind: 'complex' };
  }
  if (a.kind === 'int' && b.kind === 'int') {
    const x = a.v;
    const y = b.v;
    switch (op) {
      case '+': return int(x + y);
      case '-': return int(x - y);
      case '*': return int(x * y);
      case '/':
        if (y === 0n) throw new PyError('ZeroDivisionError');
        return float(toFloat(a) / toFloat(b));
      case '//': {
        if (y === 0n) throw new PyError('ZeroDivisionError');
        const q = x / y;
        return int(q * y !== x && x < 0n !== y < 0n ? q - 1n : q);
      }
      case '**': {
        if (y < 0n) break; // int ** negative int is float ** float
        if (x === 0n || x === 1n) return int(y === 0n ? 1n : x);
        if (x === -1n) return int(y % 2n === 0n ? 1n : -1n);
        if (BigInt(x < 0n ? -x : x).toString(2).length * Number(y) > MAX_POW_BITS) throw new PyError('too large');
        return int(x ** y);
      }
    }
  }
  const x = toFloat(a);
  const y = toFloat(b);
  switch (op) {
    case '+': return float(x + y);
    case '-': return float(x - y);
    case '*': return float(x * y);
    case '/':
      if (y === 0) throw new PyError('ZeroDivisionError');
      return float(x / y);
    case '//': return float(floatFloorDiv(x, y));
    default: { // '**' (CPython float_pow)
      if (y === 0 || x === 1) return float(1); // also 1.0 ** nan
      if (Math.abs(x) === 1 && !Number.isFinite(y) && !Number.isNaN(y)) return float(1); // (-1.0) ** inf
      if (x === 0 && y < 0) throw new PyError('ZeroDivisionError');
      if (x < 0 && Number.isFinite(x) && Number.isFinite(y) && y !== Math.floor(y)) return { kind: 'complex' };
      const r = x ** y;
      if (!Number.isFinite(r) && Number.isFinite(x) && Number.isFinite(y)) throw new PyError('OverflowError');
      return float(r);
    }
  }
}

/** Python's value of `eval(text)` for d1's Countdown character set (see the module comment). */
export function pythonEvalArithmetic(text: string): PyValue {
  let i = 0;
  let depth = 0; // open parentheses: line breaks are whitespace only inside them
  const skip = () => {
    for (;;) {
      const c = text[i];
      if (c === ' ' || c === '\t' || c === '\f' || ((c === '\n' || c === '\r') && depth > 0)) i++;
      else return;
    }
  };
  const peek = () => (skip(), text[i]);
  const eat = (s: string) => (peek(), text.startsWith(s, i) ? ((i += s.length), true) : false);
  function expr(): PyValue {
    let v = term();
    for (;;) {
      if (eat('+')) v = binary('+', v, term());
      else if (eat('-')) v = binary('-', v, term());
      else return v;
    }
  }
  function term(): PyValue {
    let v = factor();
    for (;;) {
      if (peek() === '*' && text[i + 1] !== '*') (i++, (v = binary('*', v, factor())));
      else if (eat('//')) v = binary('//', v, factor());
      else if (eat('/')) v = binary('/', v, factor());
      else return v;
    }
  }
  function factor(): PyValue {
    const sign = peek();
    if (sign === '+' || sign === '-') {
      i++;
      const neg = sign === '-';
      const v = factor();
      if (v.kind === 'object') throw new PyError('TypeError');
      if (v.kind === 'int') return int(neg ? -v.v : v.v);
      if (v.kind === 'float') return float(neg ? -v.v : v.v);
      return v;
    }
    const base = primary();
    return eat('**') ? binary('**', base, factor()) : base;
  }
  function primary(): PyValue {
    const v = atom();
    // A call (`2(3)`): numbers, Ellipsis and tuples are not callable, a TypeError whatever the arguments.
    if (peek() === '(') throw new PyError('TypeError');
    return v;
  }
  function atom(): PyValue {
    const c = peek();
    if (c === '(') {
      i++;
      depth++;
      if (eat(')')) return depth--, { kind: 'object' }; // ()
      const v = expr();
      if (!eat(')')) throw new PyError('SyntaxError');
      depth--;
      return v;
    }
    if (text.startsWith('...', i)) return (i += 3), { kind: 'object' };
    const m = /^(?:(\d+)(\.\d*)?|\.\d+)/.exec(text.slice(i));
    if (!m) throw new PyError('SyntaxError');
    i += m[0].length;
    if (m[1] !== undefined && m[2] === undefined) {
      if (/^0+[1-9]/.test(m[1])) throw new PyError('SyntaxError'); // leading zeros in a decimal integer literal
      return int(BigInt(m[1]));
    }
    return float(Number(m[0]));
  }
  try {
    const v = expr();
    if (!/^[ \t\f\n\r]*$/.test(text.slice(i))) throw new PyError('SyntaxError'); // trailing blanks end the input
    return v;
  } catch (e) {
    if (e instanceof PyError) return { kind: 'error' };
    throw e;
  }
}
