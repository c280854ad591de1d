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
 * `file:line:column: not valid JSON (<parser message>)` for a JSON.parse failure on `text` (V8 reports a character
 * position, when it can).
 */
export function jsonDataError(file: string, text: string, e: unknown): DataError {
  const message = (e as Error)?.message ?? String(e);
  const pos = /position (\d+)/.exec(message);
  if (!pos) return new DataError(`${file}: not valid JSON (${message})`);
  const before = text.slice(0, Number(pos[1])).split('\n');
  return new DataError(`${file}:${before.length}:${before[before.length - 1].length + 1}: not valid JSON (${message})`);
}
