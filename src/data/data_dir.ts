/**
 * Where datasets live: the configured directory (runtime.data_dir), else env DIFFRL_DATA_DIR, else the repository's
 * own data/ folder (committed, see data/README.md).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataError } from '../errors.ts';

/** The repository root (this file is src/data/data_dir.ts). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Absolute data directory; relative config/env values resolve against the working directory. Does not check existence. */
export function resolveDataDir(configured?: string | null): string {
  if (configured) return path.resolve(configured);
  const env = process.env.DIFFRL_DATA_DIR;
  if (env) return path.resolve(env);
  return path.resolve(REPO_ROOT, 'data');
}

/** `dataDir/relative` if it exists, else a DataError naming the directory and how to fill it. */
export function dataFile(dataDir: string, relative: string): string {
  const file = path.resolve(dataDir, relative);
  if (!fs.existsSync(file)) {
    throw new DataError(
      `${relative} is missing from the data directory ${dataDir}. Run \`yarn data:fetch\` to restore the repository's data/, or point runtime.data_dir / env DIFFRL_DATA_DIR at a directory that has it.`,
    );
  }
  return file;
}
