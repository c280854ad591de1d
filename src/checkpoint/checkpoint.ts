/**
 * Checkpoints: one directory per save, written atomically, plus a `latest` pointer file in the run directory.
 *
 *   <runDir>/<name>/config.json            model config + anything the caller adds
 *               /model.safetensors         float32, PyTorch layout: linear weights [out, in] (see `storedTransposed`)
 *               /tokenizer.json            the caller's string, verbatim
 *               /optimizer.safetensors     optional, the caller's tensors as given (no transposes)
 *               /trainer_state.json        optional: step, RNG states, data cursor...
 *   <runDir>/latest                        the name of the newest complete checkpoint directory
 *
 * Crash safety (a SIGKILL at any moment): a checkpoint is written into `.tmp-<name>-<pid>-<hex>`, fsynced, and renamed into
 * place; `latest` is replaced by rename of a fsynced temp file. `latest` always names a complete directory, and nothing
 * deletes the directory `latest` names. Leftover `.tmp-*` entries are removed by the next save. Saves to one run
 * directory must not overlap (one writer per run directory).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ConfigError, ShapeError } from '../errors.ts';
import { storedTransposed } from '../model/config.ts';
import { readSafetensors, writeSafetensors, type SafetensorsTensor } from './safetensors.ts';
import { loadHfCheckpoint } from './hf_import.ts';
import { hfModelConfig } from './hf_layout.ts';

import { LATEST_FILE, readJsonObject, readLatest, resolveCheckpoint } from './resolve.ts';

const TMP_PREFIX = '.tmp-';

export interface CheckpointContents {
  /** Model config (a ModelConfig) plus anything else the caller wants in config.json. */
  config: object;
  /** In-memory layout: linear weights [in, out]. */
  params: Record<string, tf.Tensor>;
  tokenizerJson: string;
  optimizer?: Record<string, tf.Tensor>;
  trainerState?: object;
}

export interface SaveOptions {
  /** Keep only the newest `keepLast` `step-*` directories (never the one `latest` names). */
  keepLast?: number;
}

export interface LoadedCheckpoint {
  /** The checkpoint directory that was read. */
  dir: string;
  config: Record<string, unknown>;
  /** Plain tf tensors, in-memory layout ([in, out] linear weights); the caller owns and disposes them. */
  params: Record<string, tf.Tensor>;
  tokenizerJson: string;
  optimizer?: Record<string, tf.Tensor>;
  trainerState?: Record<string, unknown>;
}

function fsyncPath(p: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(p, 'r');
    fs.fsyncSync(fd);
  } catch (e) {
    // Directories cannot be opened/fsynced on some platforms (Windows); files must be.
    if (fs.statSync(p).isFile()) throw e;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function writeFileSynced(file: string, content: string): void {
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function tmpName(label: string): string {
  return `${TMP_PREFIX}${label}-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
}

/** Transposes a row-major [rows, cols] matrix into a new [cols, rows] array (bit-exact copy). */
function transpose2d<T extends Float32Array | Int32Array>(data: T, rows: number, cols: number): T {
  const out = new (data.constructor as new (n: number) => T)(data.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = data[i * cols + j];
  return out;
}

async function toSafetensors(tensors: Record<string, tf.Tensor>, transposeLinear: boolean, file: string): Promise<Record<string, SafetensorsTensor>> {
  const out: Record<string, SafetensorsTensor> = {};
  for (const [name, t] of Object.entries(tensors)) {
    if (t.dtype !== 'float32' && t.dtype !== 'int32') throw new Error(`saveCheckpoint ${file}: tensor '${name}' has dtype ${t.dtype} (float32, int32 only)`);
    const data = (await t.data()) as Float32Array | Int32Array;
    const dtype = t.dtype === 'float32' ? 'F32' : 'I32';
    if (transposeLinear && storedTransposed(name)) {
      if (t.rank !== 2) throw new ShapeError(`saveCheckpoint: linear weight '${name}' expected [in, out], got [${t.shape.join(', ')}]`);
      const [rows, cols] = t.shape; // [in, out] -> stored [out, in]
      out[name] = { dtype, shape: [cols, rows], data: transpose2d(data, rows, cols) };
    } else {
      out[name] = { dtype, shape: [...t.shape], data };
    }
  }
  return out;
}

function fromSafetensors(file: string, transposeLinear: boolean): Record<string, tf.Tensor> {
  const { tensors } = readSafetensors(file);
  const out: Record<string, tf.Tensor> = {};
  try {
    for (const [name, { dtype, shape, data }] of Object.entries(tensors)) {
      const tfDtype = dtype === 'F32' ? 'float32' : 'int32';
      if (transposeLinear && storedTransposed(name)) {
        if (shape.length !== 2) throw new ShapeError(`loadCheckpoint ${file}: linear weight '${name}' expected [out, in], got [${shape.join(', ')}]`);
        const [rows, cols] = shape; // stored [out, in] -> [in, out]
        out[name] = tf.tensor(transpose2d(data, rows, cols), [cols, rows], tfDtype);
      } else {
        out[name] = tf.tensor(data, shape, tfDtype);
      }
    }
  } catch (e) {
    Object.values(out).forEach((t) => t.dispose());
    throw e;
  }
  return out;
}

function writeLatest(runDir: string, name: string): void {
  const tmp = path.join(runDir, tmpName(LATEST_FILE));
  writeFileSynced(tmp, `${name}\n`);
  fs.renameSync(tmp, path.join(runDir, LATEST_FILE));
  fsyncPath(runDir);
}

/** Removes `.tmp-*` leftovers (killed saves, half-deleted old checkpoints), except whatever `latest` names. */
function removeStale(runDir: string): void {
  const keep = readLatest(runDir);
  for (const entry of fs.readdirSync(runDir)) {
    if (entry.startsWith(TMP_PREFIX) && entry !== keep) fs.rmSync(path.join(runDir, entry), { recursive: true, force: true });
  }
}

/** Deletes a directory by renaming it to a `.tmp-` name first, so a crash never leaves a half-deleted checkpoint under its name. */
function removeDir(runDir: string, name: string): void {
  const doomed = path.join(runDir, tmpName(`del-${name}`));
  fs.renameSync(path.join(runDir, name), doomed);
  fsyncPath(runDir);
  fs.rmSync(doomed, { recursive: true, force: true });
}

/** A copy of a checkpoint directory made of hard links (a plain copy when the filesystem refuses links). */
function linkCopy(src: string, dst: string): void {
  fs.mkdirSync(dst);
  for (const f of fs.readdirSync(src)) {
    try {
      fs.linkSync(path.join(src, f), path.join(dst, f));
    } catch {
      fs.copyFileSync(path.join(src, f), path.join(dst, f));
      fsyncPath(path.join(dst, f));
    }
  }
  fsyncPath(dst);
}

function stepOrder(a: string, b: string): number {
  const na = /^step-(\d+)$/.exec(a);
  const nb = /^step-(\d+)$/.exec(b);
  if (na && nb && Number(na[1]) !== Number(nb[1])) return Number(na[1]) - Number(nb[1]);
  return a < b ? -1 : a > b ? 1 : 0;
}

function prune(runDir: string, keepLast: number): void {
  const latest = readLatest(runDir);
  const steps = fs
    .readdirSync(runDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name.startsWith('step-'))
    .map((e) => e.name)
    .sort(stepOrder);
  for (const name of steps.slice(0, Math.max(0, steps.length - keepLast))) {
    if (name !== latest) removeDir(runDir, name);
  }
}

/**
 * Writes checkpoint `runDir/<name>` atomically, points `runDir/latest` at it, removes stale temp entries and, with
 * `keepLast`, prunes old `step-*` directories. Re-saving an existing name replaces it safely. Returns the directory.
 */
export async function saveCheckpoint(runDir: string, name: string, contents: CheckpointContents, opts: SaveOptions = {}): Promise<string> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || name === LATEST_FILE) {
    throw new ConfigError(`saveCheckpoint: checkpoint name '${name}' must match [A-Za-z0-9][A-Za-z0-9._-]* and not be '${LATEST_FILE}'`);
  }
  const { keepLast } = opts;
  if (keepLast !== undefined && !(Number.isInteger(keepLast) && keepLast >= 1)) {
    throw new ConfigError(`saveCheckpoint: keepLast (${keepLast}) must be an integer >= 1`);
  }
  fs.mkdirSync(runDir, { recursive: true });
  removeStale(runDir);

  // Read tensors before touching the disk, so a bad tensor leaves nothing behind.
  const model = await toSafetensors(contents.params, true, name);
  const optimizer = contents.optimizer && (await toSafetensors(contents.optimizer, false, name));

  const tmp = path.join(runDir, tmpName(name));
  fs.mkdirSync(tmp);
  try {
    writeFileSynced(path.join(tmp, 'config.json'), JSON.stringify(contents.config, null, 2) + '\n');
    writeSafetensors(path.join(tmp, 'model.safetensors'), model, { format: 'pt' });
    writeFileSynced(path.join(tmp, 'tokenizer.json'), contents.tokenizerJson);
    if (optimizer) writeSafetensors(path.join(tmp, 'optimizer.safetensors'), optimizer, { format: 'pt' });
    if (contents.trainerState) writeFileSynced(path.join(tmp, 'trainer_state.json'), JSON.stringify(contents.trainerState, null, 2) + '\n');
    fsyncPath(tmp);

    const final = path.join(runDir, name);
    if (fs.existsSync(final)) {
      if (readLatest(runDir) === name) {
        // `latest` must name a complete directory while `name` is swapped: point it at a hard-linked copy meanwhile.
        const standIn = tmpName(`prev-${name}`);
        linkCopy(final, path.join(runDir, standIn));
        fsyncPath(runDir);
        writeLatest(runDir, standIn);
      }
      fs.renameSync(final, path.join(runDir, tmpName(`old-${name}`)));
    }
    fs.renameSync(tmp, final);
    fsyncPath(runDir);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  writeLatest(runDir, name);
  removeStale(runDir);
  if (keepLast !== undefined) prune(runDir, keepLast);
  return path.join(runDir, name);
}

/**
 * Loads a checkpoint (or a run directory's latest). Linear weights come back [in, out]; tensors are plain tf tensors.
 * A directory in the Hugging Face layout (config.json in LLaDA's keys, sharded or not) is imported (hf_import.ts).
 */
export function loadCheckpoint(p: string): LoadedCheckpoint {
  const dir = resolveCheckpoint(p);
  if (hfModelConfig(dir) !== null) return loadHfCheckpoint(dir);
  const config = readJsonObject(path.join(dir, 'config.json'));
  const tokenizerJson = fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8');
  const stateFile = path.join(dir, 'trainer_state.json');
  const trainerState = fs.existsSync(stateFile) ? readJsonObject(stateFile) : undefined;
  const params = fromSafetensors(path.join(dir, 'model.safetensors'), true);
  const optFile = path.join(dir, 'optimizer.safetensors');
  let optimizer: Record<string, tf.Tensor> | undefined;
  try {
    optimizer = fs.existsSync(optFile) ? fromSafetensors(optFile, false) : undefined;
  } catch (e) {
    Object.values(params).forEach((t) => t.dispose());
    throw e;
  }
  return { dir, config, params, tokenizerJson, optimizer, trainerState };
}
