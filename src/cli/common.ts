/**
 * Shared CLI plumbing, one error path for every command: a user error (a bad flag, config, data file or checkpoint:
 * ConfigError, DataError, ShapeError, yargs' usage errors, a missing or unreadable path) prints one line
 * `error: <message>` and exits 1; anything else is a bug and prints its stack (exit 1).
 */
import { ConfigError, isUserError } from '../errors.ts';

/** The one-line text of a user error, or null for a bug. */
export function userMessage(e: unknown): string | null {
  if (isUserError(e)) return e.message;
  // The file system's own refusals name the path the user gave (`ENOENT: no such file or directory, open 'x'`).
  const sys = e as NodeJS.ErrnoException | null;
  if (sys instanceof Error && typeof sys.path === 'string' && ['ENOENT', 'EACCES', 'EISDIR', 'ENOTDIR', 'EEXIST', 'EROFS', 'ENOSPC'].includes(sys.code ?? '')) {
    return sys.message;
  }
  return null;
}

export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      const message = userMessage(e);
      process.stderr.write(message !== null ? `error: ${message}\n` : `${(e as Error)?.stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}

/**
 * yargs `.fail()` handler: a usage error (unknown flag, missing or invalid choice) becomes a ConfigError for runMain,
 * on one line with a pointer to --help, instead of the usage text. Errors thrown by the command itself pass through.
 */
export function failOneLine(scriptName: string): (msg: string | null, err: Error | undefined) => never {
  return (msg, err) => {
    if (err && !msg) throw err;
    throw new ConfigError(`${(msg ?? String(err)).replace(/:\s*\n\s*/g, ': ').replace(/\s*\n\s*/g, '; ')} (see ${scriptName} --help)`);
  };
}

/** Bounds of a numeric flag; `int` also refuses fractions. */
export interface NumberRule {
  int?: boolean;
  min?: number;
  /** Exclusive lower bound. */
  gt?: number;
  max?: number;
}

/**
 * Checks numeric flags before any work starts: `--subset abc` arrives from yargs as NaN, `--subset -1` as -1.
 * Unset flags (undefined) pass. Throws a ConfigError naming the first bad flag, its value and the allowed range.
 */
export function checkNumbers(argv: Record<string, unknown>, rules: Record<string, NumberRule>): void {
  for (const [flag, r] of Object.entries(rules)) {
    const v = argv[flag];
    if (v === undefined || v === null) continue;
    const bounds = [r.gt !== undefined ? `> ${r.gt}` : null, r.min !== undefined ? `>= ${r.min}` : null, r.max !== undefined ? `<= ${r.max}` : null].filter(Boolean).join(' and ');
    const want = `${r.int ? 'an integer' : 'a number'}${bounds ? ` ${bounds}` : ''}`;
    const ok = typeof v === 'number' && Number.isFinite(v) && (!r.int || Number.isInteger(v)) &&
      (r.min === undefined || v >= r.min) && (r.gt === undefined || v > r.gt) && (r.max === undefined || v <= r.max);
    if (!ok) throw new ConfigError(`--${flag} must be ${want}, got ${Array.isArray(v) ? `${v.length} values` : (rawFlag(flag) ?? String(v))}`);
  }
}

/** The text given for `--flag` on the command line (yargs turns `abc` into NaN for a number flag). */
function rawFlag(flag: string): string | undefined {
  const args = process.argv;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${flag}`) return args[i + 1] === undefined ? '(nothing)' : `'${args[i + 1]}'`;
    if (args[i].startsWith(`--${flag}=`)) return `'${args[i].slice(flag.length + 3)}'`;
  }
  return undefined;
}

/** The flags among `flags` that the command line gives (`--x v` or `--x=v`), whatever their defaults. */
export function givenFlags(flags: string[]): string[] {
  return flags.filter((f) => process.argv.some((a) => a === `--${f}` || a.startsWith(`--${f}=`)));
}

/** Masked-diffusion sampler flags, which a left-to-right (causal or L2D) checkpoint refuses rather than ignores. */
export function refuseDiffusionFlags(flags: string[], dir: string): void {
  const given = givenFlags(flags);
  if (given.length > 0) throw new ConfigError(`${given.map((f) => `--${f}`).join(', ')}: masked-diffusion sampler option(s), but ${dir} is a left-to-right (causal or L2D) checkpoint, sampled token by token`);
}
