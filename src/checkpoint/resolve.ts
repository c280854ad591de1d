/**
 * Finding a checkpoint without loading it (no tfjs here, so a CLI can check its inputs before the compute backend
 * loads): a checkpoint directory holds model.safetensors (or, in the Hugging Face layout, sharded weights listed in
 * model.safetensors.index.json); a run directory names its newest checkpoint in `latest`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, DataError, jsonDataError } from '../errors.ts';

export const LATEST_FILE = 'latest';
const REQUIRED_FILES = ['config.json', 'tokenizer.json'];
/** Either holds the weights: one file, or the index of a sharded Hugging Face-layout directory. */
const WEIGHT_FILES = ['model.safetensors', 'model.safetensors.index.json'];

/** The directory name `runDir/latest` holds, or null when there is no `latest` file. */
export function readLatest(runDir: string): string | null {
  const file = path.join(runDir, LATEST_FILE);
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : null;
}

/** A JSON file that must hold an object; a DataError names the file (and the line and column of bad JSON). */
export function readJsonObject(file: string): Record<string, unknown> {
  const text = fs.readFileSync(file, 'utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw jsonDataError(file, text, e);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new DataError(`${file}: expected a JSON object`);
  return value as Record<string, unknown>;
}

function hasWeights(dir: string): boolean {
  return WEIGHT_FILES.some((f) => fs.existsSync(path.join(dir, f)));
}

/** The step of a run's latest checkpoint (its trainer_state.json), or -1 when it has none. */
export function latestStep(runDir: string): number {
  const latest = readLatest(runDir);
  const state = latest ? path.join(runDir, latest, 'trainer_state.json') : null;
  return state && fs.existsSync(state) ? (JSON.parse(fs.readFileSync(state, 'utf8')) as { step: number }).step : -1;
}

function missingFiles(dir: string): string[] {
  return [...REQUIRED_FILES.filter((f) => !fs.existsSync(path.join(dir, f))), ...(hasWeights(dir) ? [] : ['model.safetensors'])];
}

/**
 * A checkpoint directory (holds model.safetensors or model.safetensors.index.json) is returned as is; a run directory
 * resolves through its `latest` file. Throws a ConfigError naming the path otherwise.
 */
export function resolveCheckpoint(p: string): string {
  if (!fs.existsSync(p)) throw new ConfigError(`resolveCheckpoint: ${p} does not exist`);
  if (!fs.statSync(p).isDirectory()) throw new ConfigError(`resolveCheckpoint: ${p} is not a directory`);
  if (hasWeights(p)) {
    const missing = missingFiles(p);
    if (missing.length > 0) throw new ConfigError(`resolveCheckpoint: checkpoint ${p} is incomplete: missing ${missing.join(', ')}`);
    return p;
  }
  const latest = readLatest(p);
  if (latest === null) {
    throw new ConfigError(`resolveCheckpoint: ${p} is neither a checkpoint directory (no model.safetensors) nor a run directory (no ${LATEST_FILE} file)`);
  }
  const dir = path.join(p, latest);
  if (latest === '' || !fs.existsSync(dir)) throw new ConfigError(`resolveCheckpoint: ${path.join(p, LATEST_FILE)} names '${latest}', which does not exist in ${p}`);
  const missing = missingFiles(dir);
  if (missing.length > 0) throw new ConfigError(`resolveCheckpoint: ${dir} (named by ${path.join(p, LATEST_FILE)}) is incomplete: missing ${missing.join(', ')}`);
  return dir;
}
