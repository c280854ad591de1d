/** Errors that tell the user what to fix. Each names its source: a config key path and file, a data file and line, or a tensor. */

/** A bad config value. `where` is e.g. `configs/sudoku-sft.yaml: optimizer.lr`. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** A malformed data row, e.g. `data/train.jsonl:17: field 'question' is missing`. */
export class DataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataError';
  }
}

/** A tensor with the wrong shape, e.g. `sftLoss: input_ids expected [B, L], got [4]`. */
export class ShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShapeError';
  }
}

/** The errors a user fixes (a config, a flag, a file): the CLIs print them as one line, without a stack. */
export type UserError = ConfigError | DataError | ShapeError;

export function isUserError(e: unknown): e is UserError {
  return e instanceof ConfigError || e instanceof DataError || e instanceof ShapeError;
}

/** The same class rebuilt from its name (an error that crossed a thread boundary as plain data); null for other names. */
export function userErrorFromName(name: string, message: string): UserError | null {
  if (name === 'ConfigError') return new ConfigError(message);
  if (name === 'DataError') return new DataError(message);
  if (name === 'ShapeError') return new ShapeError(message);
  return null;
}

/** Throws a ShapeError naming `what` unless `shape` matches `expected` (null = any size on that axis). */
export function assertShape(what: string, shape: readonly number[], expected: readonly (number | null)[], names = ''): void {
  const ok = shape.length === expected.length && expected.every((e, i) => e === null || e === shape[i]);
  if (!ok) {
    const want = names || `[${expected.map((e) => (e === null ? '?' : e)).join(', ')}]`;
    throw new ShapeError(`${what} expected ${want}, got [${shape.join(', ')}]`);
  }
}

/**
 * `file:line:column: not valid JSON (<parser message>)` for a JSON.parse failure on `text`: V8's messages do not
 * always carry a position (and quote the text, newlines included), so the position comes from jsonErrorOffset.
 */
export function jsonDataError(file: string, text: string, e: unknown): DataError {
  const offset = jsonErrorOffset(text);
  const before = text.slice(0, Math.max(offset, 0)).split('\n');
  const at = offset < 0 ? '' : `:${before.length}:${before[before.length - 1].length + 1}`;
  return new DataError(`${file}${at}: not valid JSON (${oneLine((e as Error)?.message ?? String(e))})`);
}

/** A message on one line, at most `max` characters. */
export function oneLine(text: string, max = 120): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 3)}...` : flat;
}

/** Offset of the first JSON syntax error in `text` (text.length when it ends too early), or -1 when it is valid JSON. */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const number = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const fail = (): never => {
    throw new JsonOffset(i);
  };
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const str = (): void => {
    i++; // the opening quote
    while (i < text.length) {
      const c = text[i];
      if (c === '"') return void i++;
      if (c < ' ') fail();
      i += c === '\\' ? 2 : 1;
    }
    fail();
  };
  const list = (close: string, item: () => void): void => {
    i++;
    ws();
    if (text[i] === close) return void i++;
    for (;;) {
      item();
      ws();
      if (text[i] === ',') i++;
      else if (text[i] === close) return void i++;
      else fail();
    }
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      return list('}', () => {
        ws();
        if (text[i] !== '"') fail();
        str();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value();
      });
    }
    if (c === '[') return list(']', value);
    if (c === '"') return str();
    for (const word of ['true', 'false', 'null']) if (text.startsWith(word, i)) return void (i += word.length);
    number.lastIndex = i;
    const m = number.exec(text);
    if (!m) fail();
    i += m![0].length;
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
    return -1;
  } catch (e) {
    if (e instanceof JsonOffset) return Math.min(e.offset, text.length);
    throw e;
  }
}

class JsonOffset {
  constructor(readonly offset: number) {}
}
