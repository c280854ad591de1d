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

/** Throws a ShapeError naming `what` unless `shape` matches `expected` (null = any size on that axis). */
export function assertShape(what: string, shape: readonly number[], expected: readonly (number | null)[], names = ''): void {
  const ok = shape.length === expected.length && expected.every((e, i) => e === null || e === shape[i]);
  if (!ok) {
    const want = names || `[${expected.map((e) => (e === null ? '?' : e)).join(', ')}]`;
    throw new ShapeError(`${what} expected ${want}, got [${shape.join(', ')}]`);
  }
}
