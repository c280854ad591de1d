/**
 * `yarn export`: a checkpoint -> a directory in the layout Hugging Face publishes LLaDA in, which LLaDA's own
 * modeling code (and d1 / dllm / TRL on top of it) loads with `trust_remote_code=True`:
 *   config.json                        LLaDA's keys (hf_config.ts), auto_map -> LLaDA's code on the Hub
 *   model.safetensors                  when the weights fit in one shard, else
 *   model-0000i-of-0000N.safetensors   shards of at most `shardBytes` (a larger tensor gets a shard of its own)
 *   model.safetensors.index.json       {"metadata": {"total_size"}, "weight_map": {tensor: shard}}
 *   tokenizer.json, tokenizer_config.json, special_tokens_map.json
 *   README.md                          a model card: what the model is, how it was trained, how to load it
 * Tensors keep LLaDA's names and PyTorch's [out, in] layout, in F32 (exact), BF16 or F16 (rounded to nearest even).
 * No tfjs: the weights are read from the checkpoint's file(s) and converted one shard at a time. The directory is
 * written under a temporary name and renamed into place, so OUT is either complete or absent.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, DataError } from '../errors.ts';
import type { ModelConfig } from '../model/config.ts';
import { f32ToBf16, f32ToF16, toFloat32 } from './half.ts';
import { hfConfigFromModel, LLADA_CODE_REPO, modelConfigFromHf, TORCH_DTYPE } from './hf_config.ts';
import { HF_INDEX_FILE, HF_SINGLE_FILE, hfModelConfig, llamaBlockTensorShapes, planHfWeights, readSpan } from './hf_layout.ts';
import { readJsonObject, resolveCheckpoint } from './resolve.ts';
import { readSafetensors, writeSafetensors, type StoredTensor } from './safetensors.ts';
import { writeModelCard } from './hf_card.ts';

export type ExportDtype = keyof typeof TORCH_DTYPE;
const STORED: Record<ExportDtype, StoredTensor['dtype']> = { f32: 'F32', bf16: 'BF16', f16: 'F16' };
const WIDTH: Record<ExportDtype, number> = { f32: 4, bf16: 2, f16: 2 };

export interface ExportOptions {
  dtype: ExportDtype;
  /** Largest shard in bytes (Hugging Face's max_shard_size). */
  shardBytes: number;
}

export interface ExportResult {
  out: string;
  /** The weight files written, in order. */
  shards: string[];
  totalBytes: number;
}

/** "2GB" -> 2e9, "500MB", "10KiB", "123" (bytes): decimal units as transformers' max_shard_size, binary with an i. */
export function parseShardSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KIB|MIB|GIB)?\s*$/i.exec(text);
  const unit = (m?.[2] ?? 'B').toUpperCase();
  const scale: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KIB: 2 ** 10, MIB: 2 ** 20, GIB: 2 ** 30 };
  const bytes = m ? Math.floor(Number(m[1]) * scale[unit]) : NaN;
  if (!(bytes >= 1)) throw new ConfigError(`--shard-size '${text}': expected a size like 2GB, 500MB, 64KiB or a byte count`);
  return bytes;
}

/** The float32 weights of a checkpoint in PyTorch layout, by name: one function per tensor, read when called. */
function weightSource(dir: string, cfg: ModelConfig, hf: boolean): Map<string, () => Float32Array> {
  if (hf) {
    return new Map(planHfWeights(dir, cfg).map((s) => [s.name, () => toFloat32(readSpan(s), s.dtype, s.shape.reduce((a, b) => a * b, 1))]));
  }
  const file = path.join(dir, HF_SINGLE_FILE);
  const { tensors } = readSafetensors(file);
  const expected = llamaBlockTensorShapes(cfg);
  for (const [name, t] of Object.entries(tensors)) {
    const want = expected.get(name);
    if (!want || t.dtype !== 'F32' || t.shape.join() !== want.join()) {
      throw new DataError(`${file}: tensor ${name} (${t.dtype} [${t.shape}]) is not a weight of the model config.json describes${want ? ` (F32 [${want}])` : ''}`);
    }
  }
  const missing = [...expected.keys()].find((n) => !(n in tensors));
  if (missing) throw new DataError(`${file}: tensor ${missing} is missing`);
  return new Map([...expected.keys()].map((n) => [n, () => tensors[n].data as Float32Array]));
}

function convert(data: Float32Array, dtype: ExportDtype): StoredTensor['data'] {
  if (dtype === 'f32') return data;
  const narrow = dtype === 'bf16' ? f32ToBf16 : f32ToF16;
  const out = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = narrow(data[i]);
  return out;
}

/** Tensor names grouped into shards of at most `limit` bytes each, in model order. */
function planShards(names: string[], bytesOf: (name: string) => number, limit: number): string[][] {
  const shards: string[][] = [];
  let size = 0;
  for (const name of names) {
    const b = bytesOf(name);
    if (shards.length === 0 || (size + b > limit && size > 0)) {
      shards.push([]);
      size = 0;
    }
    shards[shards.length - 1].push(name);
    size += b;
  }
  return shards;
}

function writeJson(file: string, value: unknown): void {
  fs.writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
}

/** The tokenizer files a Hugging Face user loads with AutoTokenizer (PreTrainedTokenizerFast over tokenizer.json). */
function writeTokenizerFiles(out: string, tokenizerJson: string, cfg: ModelConfig): void {
  fs.writeFileSync(path.join(out, 'tokenizer.json'), tokenizerJson);
  const vocab = JSON.parse(tokenizerJson) as { added_tokens?: { id: number; content: string }[] };
  const special = (id: number): string => {
    const t = vocab.added_tokens?.find((a) => a.id === id);
    if (!t) throw new ConfigError(`tokenizer.json: no added token with id ${id} (the special tokens are ids 0-2)`);
    return t.content;
  };
  const tokens = { pad_token: special(cfg.pad_token_id), eos_token: special(cfg.eos_token_id), mask_token: special(cfg.mask_token_id) };
  writeJson(path.join(out, 'special_tokens_map.json'), tokens);
  writeJson(path.join(out, 'tokenizer_config.json'), {
    tokenizer_class: 'PreTrainedTokenizerFast',
    ...tokens,
    add_bos_token: false,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
    model_max_length: cfg.max_seq_len,
    // The project trains on raw prompt text (tokenizer/templates.ts), never a chat format: a conversation renders as
    // its messages' contents, so chat-based pipelines (d1's maybe_apply_chat_template) feed the model what it saw.
    chat_template: "{% for message in messages %}{{ message['content'] }}{% endfor %}",
  });
}

/**
 * Writes checkpoint `checkpoint` (a checkpoint or run directory, in the project's or the Hugging Face layout) to
 * `out` in the Hugging Face layout. `out` must not exist, or be an empty directory.
 */
export function exportHf(checkpoint: string, out: string, opts: ExportOptions): ExportResult {
  if (fs.existsSync(out) && (!fs.statSync(out).isDirectory() || fs.readdirSync(out).length > 0)) {
    throw new ConfigError(`--out ${out} already exists and is not an empty directory`);
  }
  const dir = resolveCheckpoint(checkpoint);
  const hfCfg = hfModelConfig(dir);
  const cfg = hfCfg ?? (readJsonObject(path.join(dir, 'config.json')) as unknown as ModelConfig);
  const hfConfig = hfConfigFromModel(cfg, opts.dtype, path.join(dir, 'config.json'));
  modelConfigFromHf(hfConfig, path.join(dir, 'config.json')); // what is written must import back: sizes checked here
  const source = weightSource(dir, cfg, hfCfg !== null);
  const shapes = llamaBlockTensorShapes(cfg);
  const bytesOf = (name: string): number => shapes.get(name)!.reduce((a, b) => a * b, 1) * WIDTH[opts.dtype];
  const groups = planShards([...shapes.keys()], bytesOf, opts.shardBytes);
  const fileName = (i: number): string =>
    groups.length === 1 ? HF_SINGLE_FILE : `model-${String(i + 1).padStart(5, '0')}-of-${String(groups.length).padStart(5, '0')}.safetensors`;

  const tmp = path.join(path.dirname(path.resolve(out)), `.tmp-${path.basename(out)}-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  try {
    const weightMap: Record<string, string> = {};
    groups.forEach((names, i) => {
      const tensors: Record<string, StoredTensor> = {};
      for (const name of names) {
        tensors[name] = { dtype: STORED[opts.dtype], shape: shapes.get(name)!, data: convert(source.get(name)!(), opts.dtype) };
        weightMap[name] = fileName(i);
      }
      writeSafetensors(path.join(tmp, fileName(i)), tensors, { format: 'pt' });
    });
    const totalBytes = [...shapes.keys()].reduce((s, n) => s + bytesOf(n), 0);
    if (groups.length > 1) {
      const sorted = Object.fromEntries(Object.entries(weightMap).sort(([a], [b]) => (a < b ? -1 : 1)));
      writeJson(path.join(tmp, HF_INDEX_FILE), { metadata: { total_size: totalBytes }, weight_map: sorted });
    }
    writeJson(path.join(tmp, 'config.json'), hfConfig);
    writeTokenizerFiles(tmp, fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'), cfg);
    writeModelCard(tmp, { source: dir, cfg, dtype: TORCH_DTYPE[opts.dtype], shards: groups.length, totalBytes, codeRepo: LLADA_CODE_REPO });
    if (fs.existsSync(out)) fs.rmdirSync(out);
    fs.renameSync(tmp, out);
    return { out, shards: groups.map((_, i) => fileName(i)), totalBytes };
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
