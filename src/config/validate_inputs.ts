/**
 * Everything a run reads, checked before it writes anything or starts a worker (the CLIs call these right after
 * loading the config): the starting checkpoint (config.json, tokenizer.json, the safetensors header against the
 * file's size), the data directory and file, every data row against the task's template and the model's tokenizer
 * and length, the periodic eval set, and the cross-field checks of validate.ts. No tfjs is loaded here, so a bad
 * input fails in about a second. Errors are one line naming the file and line, or the config key.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, DataError, isUserError, jsonDataError } from '../errors.ts';
import { inspectSafetensors } from '../checkpoint/safetensors.ts';
import { inspectHfCheckpoint } from '../checkpoint/hf_layout.ts';
import { resolveCheckpoint } from '../checkpoint/resolve.ts';
import { loadRowsLocated, resolveDataDir } from '../data/index.ts';
import { Rng } from '../rng.ts';
import { loadEvalItems, taskSpec, type EvalTask } from '../eval/tasks.ts';
import { generateRows } from '../tasks/generate.ts';
import { formatExample, formatPrompt, tokenizerFromJSON, loadTokenizer, type TaskName, type Tokenizer } from '../tokenizer/index.ts';
import type { LoadedConfig } from './load.ts';
import type { GrpoConfig, TrainConfig } from './schema.ts';
import { checkGrpoConfig, checkSampler, checkTrainConfig, configError, SAMPLER_FLAGS, samplerKeys, type ModelLimits, type Where } from './validate.ts';

/** A checkpoint's model config and tokenizer, read and checked without loading the weights. */
export interface CheckpointInfo {
  dir: string;
  config: Record<string, number>;
  tokenizer: Tokenizer;
  limits: ModelLimits;
}

const SIZE_KEYS = ['vocab_size', 'd_model', 'n_layers', 'n_heads', 'mlp_hidden', 'max_seq_len'] as const;

/** Resolves `p` (checkpoint or run dir) and checks its files; `label` (e.g. `init_from`) prefixes a resolve error. */
export function inspectCheckpoint(p: string, label: string): CheckpointInfo {
  let dir: string;
  try {
    dir = resolveCheckpoint(p);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`${label}: ${e.message.replace(/^resolveCheckpoint: /, '')}`);
    throw e;
  }
  const configFile = path.join(dir, 'config.json');
  const hf = inspectHfCheckpoint(dir); // config.json in LLaDA's keys: the config, tokenizer and every shard checked there
  const text = fs.readFileSync(configFile, 'utf8');
  let config: Record<string, number>;
  try {
    config = hf ? (hf as unknown as Record<string, number>) : JSON.parse(text);
  } catch (e) {
    throw jsonDataError(configFile, text, e);
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new DataError(`${configFile}: expected a JSON object`);
  for (const key of SIZE_KEYS) {
    if (!Number.isInteger(config[key]) || config[key] < 1) throw new DataError(`${configFile}: ${key} (${JSON.stringify(config[key])}) must be an integer >= 1`);
  }
  const tokenizer = tokenizerFromJSON(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'), path.join(dir, 'tokenizer.json'));
  if (tokenizer.vocabSize !== config.vocab_size) {
    throw new DataError(`${configFile}: vocab_size (${config.vocab_size}) differs from the vocabulary size of tokenizer.json (${tokenizer.vocabSize}); the files do not belong together`);
  }
  if (!hf) inspectSafetensors(path.join(dir, 'model.safetensors'));
  const optimizer = path.join(dir, 'optimizer.safetensors');
  if (fs.existsSync(optimizer)) inspectSafetensors(optimizer);
  return { dir, config, tokenizer, limits: { max_seq_len: config.max_seq_len, source: `checkpoint ${dir}` } };
}

/** `yarn train:sft` / `train:pretrain`: the config, its checkpoint (init_from or --resume) and its data. */
export function validateTrainRun(loaded: LoadedConfig<TrainConfig>, opts: { resume?: boolean } = {}): void {
  const { config } = loaded;
  const where = whereOf(loaded);
  const ckpt = opts.resume ? inspectCheckpoint(config.run.output_dir, '--resume (run.output_dir)') : config.model.init_from ? inspectCheckpointAt(config.model.init_from, 'model.init_from', where) : null;
  checkTrainConfig(config, ckpt?.limits ?? null, where);
  const dataDir = checkDataDir(config.runtime.data_dir, where);
  const d = config.data;
  if (d.train_path === null) {
    if (!GENERATED.includes(d.task)) throw configError(where, 'data.train_path', `is required for task '${d.task}' (only ${GENERATED.join(', ')} can be generated)`);
    return;
  }
  const { rows, where: at } = loadRowsLocated({ path: path.resolve(dataDir, d.train_path), fields: d.fields });
  if (rows.length <= d.num_eval) throw configError(where, 'data.num_eval', `(${d.num_eval}) must be smaller than the ${rows.length} rows of ${d.train_path}`);
  // The tokenizer the run will use, when it is fixed before training (a checkpoint's, a file, or listed characters).
  const tok = ckpt?.tokenizer ?? (config.tokenizer.type === 'file' && config.tokenizer.path ? loadTokenizer(config.tokenizer.path) : null);
  const chars = !ckpt && config.tokenizer.type === 'char' && config.tokenizer.chars !== null ? new Set(config.tokenizer.chars) : null;
  rows.forEach((row, i) =>
    atRow(at[i], row, d.task, () => {
      const ex = formatExample(d.task as TaskName, row);
      if (tok) tok.encode(ex.prompt + ex.answer);
      const missing = chars && [...ex.prompt + ex.answer].find((c) => !chars.has(c));
      if (missing) throw new DataError(`character ${JSON.stringify(missing)} is not in tokenizer.chars`);
    }),
  );
}

/** `yarn train:grpo`: the config, the init_from (or resumed) checkpoint, the prompt set and the periodic eval set. */
export function validateGrpoRun(loaded: LoadedConfig<GrpoConfig>, opts: { resume?: boolean } = {}): void {
  const { config } = loaded;
  const where = whereOf(loaded);
  // init_from is always read (the reference model), the run directory's checkpoint too when resuming.
  const init = inspectCheckpointAt(config.init_from, 'init_from', where);
  const ckpt = opts.resume ? inspectCheckpoint(config.run.output_dir, '--resume (run.output_dir)') : init;
  checkGrpoConfig(config, ckpt.limits, where);
  const dataDir = checkDataDir(config.runtime.data_dir, where);
  const d = config.data;
  const Lg = config.sampler.gen_length;
  const fits = (prompt: string): void => checkFits(ckpt, prompt, Lg, 'sampler.gen_length');
  if (d.train_path !== null) {
    const { rows, where: at } = loadRowsLocated({ path: path.resolve(dataDir, d.train_path), fields: d.fields });
    const n = Math.min(rows.length, d.num_train ?? rows.length);
    if (n === 0) throw configError(where, 'data.train_path', `${d.train_path} has no rows`);
    for (let i = 0; i < n; i++) atRow(at[i], rows[i], d.task, () => fits(formatPrompt(d.task as TaskName, rows[i])));
  } else {
    if (!GENERATED.includes(d.task)) throw configError(where, 'data.train_path', `is required for task '${d.task}' (only ${GENERATED.join(', ')} can be generated)`);
    // Generating the whole prompt set takes seconds (the trainer does it); the first items show the prompt length.
    const sample = generateRows(d.task, d.seed ?? config.run.seed + 1, Math.min(d.num_train ?? 256, 256), dataDir);
    sample.forEach((row, i) => atRow(`generated ${d.task} prompt ${i}`, row, null, () => fits(formatPrompt(d.task as TaskName, row))));
  }
  if (config.eval.task !== null) {
    // The periodic eval decodes with the task's defaults and the run's gen_length / block_length (grpo_trainer.ts).
    const spec = taskSpec(config.eval.task);
    const s = { ...spec.sampler, gen_length: Lg, block_length: config.sampler.block_length };
    try {
      checkSampler({ sampler: s.sampler, gen_length: s.gen_length, block_length: s.block_length, steps: s.steps ?? null }, samplerKeys('sampler'), () => '');
    } catch (e) {
      throw configError(where, 'eval.task', `${config.eval.task} is decoded with its ${s.steps} steps and the run's sampler.gen_length / block_length: ${(e as Error).message}`);
    }
    spec.load(dataDir).forEach((row, i) => atRow(`eval.task ${config.eval.task}: test item ${i}`, row, null, () => fits(spec.prompt(row))));
  }
}

/** `yarn eval`: the checkpoint, --subset against the test set, the sampler flags, and every chosen prompt's length. */
export function validateEvalRun(o: {
  checkpoint: string;
  task: EvalTask;
  subset: number | null;
  seed: number;
  dataDir: string;
  testFile?: string | null;
  sampler: { sampler?: string; gen_length?: number; block_length?: number; steps?: number };
}): CheckpointInfo {
  const ckpt = inspectCheckpoint(o.checkpoint, '--checkpoint');
  const spec = taskSpec(o.task);
  const all = loadEvalItems(o.task, o.dataDir, o.testFile);
  const set = o.testFile ? `--test-file ${o.testFile}` : `the ${o.task} test set`;
  if (all.length === 0) throw new ConfigError(`${set} has no items`);
  if (o.subset !== null && o.subset > all.length) throw new ConfigError(`--subset (${o.subset}) must be at most the ${all.length} items of ${set}`);
  const given = Object.fromEntries(Object.entries(o.sampler).filter(([, v]) => v !== undefined));
  const s = { ...spec.sampler, ...given } as { sampler: string; gen_length: number; block_length: number; steps?: number };
  // A flag left unset takes the task's default, which may not fit the flags that were given: name both.
  const keys = Object.fromEntries((['gen_length', 'block_length', 'steps'] as const).map((k) => [k, k in given ? SAMPLER_FLAGS[k] : `${SAMPLER_FLAGS[k]} (the ${o.task} default)`])) as typeof SAMPLER_FLAGS;
  checkSampler({ sampler: s.sampler, gen_length: s.gen_length, block_length: s.block_length, steps: s.steps ?? null }, keys, () => '');
  // The same items evaluate() takes (eval/evaluate.ts: a permutation seeded with --seed).
  const order = new Rng(o.seed, 'eval-subset').permutation(all.length);
  for (const i of o.subset === null ? order : order.slice(0, o.subset)) {
    atRow(`${o.testFile ? o.testFile : o.task + ' test'} item ${i}`, all[i], null, () => checkFits(ckpt, spec.prompt(all[i]), s.gen_length, keys.gen_length));
  }
  return ckpt;
}

/**
 * `yarn quickstart`: both stage configs and --subset, before any stage runs (or --fresh deletes anything). The GRPO
 * stage starts from the SFT stage's model, which may not exist yet: its checks use the SFT config's max_seq_len.
 */
export function validateQuickstartRun(sft: LoadedConfig<TrainConfig>, grpo: LoadedConfig<GrpoConfig>, o: { task: EvalTask; subset: number }): void {
  validateTrainRun(sft);
  const m = sft.config.model;
  const limits = m.init_from ? inspectCheckpoint(m.init_from, 'model.init_from').limits : { max_seq_len: m.max_seq_len, source: `the SFT stage (${sft.path} model.max_seq_len)` };
  checkGrpoConfig(grpo.config, limits, whereOf(grpo));
  const items = taskSpec(o.task).load(resolveDataDir(sft.config.runtime.data_dir ?? undefined)).length;
  if (o.subset > items) throw new ConfigError(`--subset (${o.subset}) must be at most the ${items} items of the ${o.task} test set`);
}

/** A prompt of `prompt`'s length plus `genLength` generated tokens fits the model, or a DataError saying by how much not. */
export function checkFits(ckpt: CheckpointInfo, prompt: string, genLength: number, genKey: string): void {
  const n = ckpt.tokenizer.encode(prompt).length;
  if (n + genLength > ckpt.limits.max_seq_len) {
    throw new DataError(`the prompt is ${n} tokens; with ${genKey} ${genLength} that is ${n + genLength}, more than max_seq_len ${ckpt.limits.max_seq_len} of ${ckpt.limits.source}`);
  }
}

const GENERATED: string[] = ['sudoku', 'countdown', 'arithmetic'];

function whereOf(loaded: LoadedConfig<unknown>): Where {
  return loaded.where ?? (() => loaded.path);
}

function inspectCheckpointAt(p: string, key: string, where: Where): CheckpointInfo {
  try {
    return inspectCheckpoint(p, key);
  } catch (e) {
    // A missing checkpoint is a config mistake: point at the key. A broken file names itself.
    if (e instanceof ConfigError) throw new ConfigError(`${where(key)} ${e.message}`);
    throw e;
  }
}

function checkDataDir(configured: string | null, where: Where): string {
  const dir = resolveDataDir(configured ?? undefined);
  if (configured && !fs.existsSync(dir)) throw configError(where, 'runtime.data_dir', `${dir} does not exist`);
  return dir;
}

/**
 * Runs `check` on one row; a user error becomes `<file:line>: <message>`, plus for a data file's row (`task` given)
 * the task and the row's columns, since a template error usually means a column is missing or misnamed.
 */
function atRow(at: string, row: Record<string, unknown>, task: string | null, check: () => void): void {
  try {
    check();
  } catch (e) {
    if (!isUserError(e)) throw e;
    const columns = /columns?:/.test(e.message) ? '' : `; the row's columns: ${Object.keys(row).join(', ') || 'none'}`;
    throw new DataError(`${at}: ${e.message}${task === null ? '' : ` (data.task ${task}${columns})`}`);
  }
}
