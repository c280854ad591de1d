/** Where tests find the repository's files: relative to the repository root, never an absolute path of a machine. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is test/paths.ts). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The committed data sets (data/README.md). */
export const DATA_DIR = path.join(REPO_ROOT, 'data');
/** `data/<relative>`. */
export const dataPath = (relative: string) => path.join(DATA_DIR, relative);
