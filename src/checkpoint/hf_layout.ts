/**
 * Reading a Hugging Face-layout LLaDA-style directory without loading tfjs or the weights:
 *   config.json                      LLaDA's keys (hf_config.ts)
 *   model.safetensors                the weights in one file, or
 *   model.safetensors.index.json     {"metadata": {...}, "weight_map": {tensor name: shard file}} and the shards
 *   tokenizer.json                   a tokenizer the project represents (tokenizer/from_json.ts)
 * `planHfWeights` checks every shard's header against the file's size, the index against the shards, and every
 * tensor's name, shape and dtype against what LLaDA's modeling code builds for the config, and returns where each
 * tensor's bytes are; hf_import.ts then reads them one tensor at a time.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DataError } from '../errors.ts';
import type { ModelConfig } from '../model/config.ts';
import { tokenizerFromJSON } from '../tokenizer/index.ts';
import { isHfConfig, modelConfigFromHf } from './hf_config.ts';
import { readJsonObject } from './resolve.ts';
import { readLayout } from './safetensors.ts';

export const HF_SINGLE_FILE = 'model.safetensors';
export const HF_INDEX_FILE = 'model.safetensors.index.json';
/** The dtypes an import converts to float32, with their widths in bytes. */
const FLOAT_DTYPES = { F32: 4, F16: 2, BF16: 2 } as const;

/** Where one tensor's bytes are and how to read them. `shape` is as stored (PyTorch's [out, in] for a linear). */
export interface TensorSpan {
  name: string;
  file: string;
  dtype: 'F32' | 'F16' | 'BF16';
  shape: number[];
  /** Absolute byte offset in `file`, and the byte count. */
  offset: number;
  bytes: number;
}

/** Reads one tensor's bytes from its shard. */
export function readSpan(span: TensorSpan): Uint8Array {
  const fd = fs.openSync(span.file, 'r');
  try {
    const bytes = new Uint8Array(span.bytes);
    const n = fs.readSync(fd, bytes, 0, span.bytes, span.offset);
    if (n !== span.bytes) throw new DataError(`${span.file}: tensor ${span.name}: read ${n} of ${span.bytes} bytes (the file changed while loading?)`);
    return bytes;
  } finally {
    fs.closeSync(fd);
  }
}

/** The checkpoint's ModelConfig when `dir/config.json` is in LLaDA's keys, null for the project's own layout. */
export function hfModelConfig(dir: string): ModelConfig | null {
  const file = path.join(dir, 'config.json');
  const json = readJsonObject(file);
  return isHfConfig(json) ? modelConfigFromHf(json, file) : null;
}

/**
 * The directory's tokenizer.json, checked against config.json: the vocabulary size and the mask / eos / pad ids must
 * agree (the project's tokenizers put pad, eos and [MASK] at ids 0, 1, 2). Returns the tokenizer.json text.
 */
export function checkHfTokenizer(dir: string, cfg: ModelConfig): string {
  const file = path.join(dir, 'tokenizer.json');
  const json = fs.readFileSync(file, 'utf8');
  const tok = tokenizerFromJSON(json, file);
  const configFile = path.join(dir, 'config.json');
  if (tok.vocabSize !== cfg.vocab_size) throw new DataError(`${configFile}: vocab_size (${cfg.vocab_size}) differs from the ${tok.vocabSize} tokens of tokenizer.json`);
  const ids = [['mask_token_id', tok.maskId], ['eos_token_id', tok.eosId], ['pad_token_id', tok.padId]] as const;
  for (const [key, id] of ids) {
    if (cfg[key] !== id) throw new DataError(`${configFile}: ${key} (${cfg[key]}) differs from tokenizer.json's (${id})`);
  }
  return json;
}

/**
 * Every check of an import without reading the weights (config.json, tokenizer.json, each shard's header, the index):
 * the ModelConfig of a Hugging Face-layout directory, or null when `dir` is in the project's own layout.
 */
export function inspectHfCheckpoint(dir: string): ModelConfig | null {
  const cfg = hfModelConfig(dir);
  if (cfg === null) return null;
  checkHfTokenizer(dir, cfg);
  planHfWeights(dir, cfg);
  return cfg;
}

/**
 * The tensors LLaDA's modeling code (LLaDAModelLM, llama blocks) builds for this config, with their stored shapes:
 * nn.Linear weights are [out_features, in_features], the embedding [embedding_size, d_model].
 */
export function llamaBlockTensorShapes(cfg: ModelConfig): Map<string, number[]> {
  const { d_model: d, mlp_hidden: h, vocab_size: V } = cfg;
  const t = 'model.transformer.';
  const shapes = new Map<string, number[]>([[`${t}wte.weight`, [V, d]]]);
  for (let i = 0; i < cfg.n_layers; i++) {
    const b = `${t}blocks.${i}.`;
    const block: [string, number[]][] = [
      ['attn_norm', [d]], ['q_proj', [d, d]], ['k_proj', [d, d]], ['v_proj', [d, d]], ['attn_out', [d, d]],
      ['ff_norm', [d]], ['ff_proj', [h, d]], ['up_proj', [h, d]], ['ff_out', [d, h]],
    ];
    for (const [what, shape] of block) shapes.set(`${b}${what}.weight`, shape);
  }
  shapes.set(`${t}ln_f.weight`, [d]);
  shapes.set(`${t}ff_out.weight`, [V, d]);
  return shapes;
}

/** Shard file -> the tensor names the index puts there (one entry, model.safetensors, for an unsharded directory). */
export function readWeightMap(dir: string): Map<string, string[]> {
  const indexFile = path.join(dir, HF_INDEX_FILE);
  if (!fs.existsSync(indexFile)) {
    const single = path.join(dir, HF_SINGLE_FILE);
    if (!fs.existsSync(single)) throw new DataError(`${dir}: neither ${HF_SINGLE_FILE} nor ${HF_INDEX_FILE} exists`);
    return new Map([[HF_SINGLE_FILE, []]]);
  }
  const index = readJsonObject(indexFile);
  const map = index.weight_map;
  if (map === null || typeof map !== 'object' || Array.isArray(map) || Object.keys(map).length === 0) {
    throw new DataError(`${indexFile}: weight_map must be a non-empty object {tensor name: shard file}`);
  }
  const shards = new Map<string, string[]>();
  for (const [name, file] of Object.entries(map as Record<string, unknown>)) {
    if (typeof file !== 'string' || file === '' || path.basename(file) !== file) {
      throw new DataError(`${indexFile}: weight_map["${name}"] (${JSON.stringify(file)}) must be a file name in ${dir}`);
    }
    if (!fs.existsSync(path.join(dir, file))) throw new DataError(`${indexFile}: weight_map["${name}"] names ${file}, which does not exist in ${dir} (missing shard?)`);
    shards.set(file, [...(shards.get(file) ?? []), name]);
  }
  return shards;
}

/**
 * Every tensor of the model, in the model's order, with where its bytes are. Throws a one-line DataError naming the
 * file and the tensor when a header is corrupt, the index and a shard disagree, a tensor is missing, unexpected,
 * misshapen or of a dtype other than F32 / F16 / BF16.
 */
export function planHfWeights(dir: string, cfg: ModelConfig): TensorSpan[] {
  const expected = llamaBlockTensorShapes(cfg);
  const indexed = fs.existsSync(path.join(dir, HF_INDEX_FILE));
  const found = new Map<string, TensorSpan>();
  for (const [file, names] of readWeightMap(dir)) {
    const full = path.join(dir, file);
    const layout = readLayout(full, FLOAT_DTYPES);
    const inFile = new Set(layout.entries.map((e) => e.name));
    const listed = names.find((n) => !inFile.has(n));
    if (listed !== undefined) throw new DataError(`${path.join(dir, HF_INDEX_FILE)}: weight_map puts ${listed} in ${file}, which has no such tensor`);
    for (const e of layout.entries) {
      if (indexed && !names.includes(e.name)) throw new DataError(`${full}: tensor ${e.name} is not listed for this file in ${HF_INDEX_FILE}`);
      const want = expected.get(e.name);
      if (!want) throw new DataError(`${full}: unexpected tensor ${e.name} (LLaDA's llama blocks with this config.json have no such weight)`);
      if (e.shape.join() !== want.join()) throw new DataError(`${full}: tensor ${e.name} has shape [${e.shape}], config.json implies [${want}]`);
      if (found.has(e.name)) throw new DataError(`${full}: tensor ${e.name} is also in ${found.get(e.name)!.file}`);
      found.set(e.name, { name: e.name, file: full, dtype: e.dtype, shape: e.shape, offset: layout.dataStart + e.begin, bytes: e.end - e.begin });
    }
  }
  const missing = [...expected.keys()].filter((n) => !found.has(n));
  if (missing.length > 0) throw new DataError(`${dir}: tensor ${missing[0]} is missing${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''}`);
  return [...expected.keys()].map((n) => found.get(n)!);
}
