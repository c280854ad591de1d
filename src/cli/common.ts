/** Shared CLI plumbing: user errors print one clear message (no stack) and exit 1; bugs print the stack. */
import { ConfigError, DataError, ShapeError } from '../backend/errors.ts';

export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      if (e instanceof ConfigError || e instanceof DataError || e instanceof ShapeError) {
        process.stderr.write(`error: ${e.message}\n`);
      } else {
        process.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`);
      }
      process.exit(1);
    },
  );
}
