/** tokenizer.json files <-> Tokenizer: reading and writing them (the parsing is from_json.ts). */
import fs from 'node:fs';
import path from 'node:path';
import { DataError } from '../errors.ts';
import { tokenizerFromJSON } from './from_json.ts';
import type { Tokenizer } from './types.ts';

export { tokenizerFromJSON };

/** Reads a tokenizer.json file (either kind). */
export function loadTokenizer(file: string): Tokenizer {
  if (!fs.existsSync(file)) throw new DataError(`${file}: tokenizer file not found`);
  return tokenizerFromJSON(fs.readFileSync(file, 'utf8'), file);
}

/** Writes `tok.toJSON()` to `file` (creating its directory). */
export function saveTokenizer(tok: Tokenizer, file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, tok.toJSON());
}
