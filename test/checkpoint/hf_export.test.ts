/**
 * `yarn export` on a model trained here: the exported directory checked, independently of the exporter, against what
 * LLaDA's public configuration_llada.py / modeling_llada.py build from its config.json; the round trip back through
 * the import (bit-exact in f32, within bf16 rounding in bf16, sharded or not); and the CLIs on the exported directory.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/checkpoint/checkpoint.ts';
import { loadModel } from '../../src/checkpoint/load_model.ts';
import { exportHf, parseShardSize } from '../../src/checkpoint/hf_export.ts';
import { parseConfig } from '../../src/config/load.ts';
import { trainConfigSchema } from '../../src/config/schema.ts';
import { trainGrpo } from '../../src/rl/grpo_trainer.ts';
import { train } from '../../src/train/trainer.ts';
import { REPO_ROOT } from '../paths.ts';
import { config as grpoConfig, countTarget, quiet, saveInitCheckpoint } from '../rl/grpo_helpers.ts';

const run = promisify(execFile);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-export-'));
const runDir = path.join(tmp, 'sft');
let original: Record<string, Float32Array>; // the trained checkpoint's weights, in-memory layout

/** name -> values of every tensor of a loaded checkpoint (disposes the tensors). */
function values(ckpt: { params: Record<string, tf.Tensor> }): Record<string, Float32Array> {
  const out = Object.fromEntries(Object.entries(ckpt.params).map(([k, t]) => [k, t.dataSync() as Float32Array]));
  tf.dispose(Object.values(ckpt.params));
  return out;
}

/** A tiny Sudoku SFT run of `steps` steps into `outputDir`, from a fresh model or from `initFrom`. */
function sftConfig(outputDir: string, steps: number, initFrom: string | null = null) {
  return parseConfig(
    {
      run: { output_dir: outputDir, seed: 5 },
      runtime: { backend: 'cpu' },
      model: { d_model: 16, n_layers: 2, n_heads: 2, mlp_hidden: 24, max_seq_len: 40, init_from: initFrom },
      data: { task: 'sudoku', num_train: 32, num_eval: 4, seq_len: 34 },
      optimizer: { lr: 3e-3 },
      schedule: { warmup_steps: 1 },
      training: { max_steps: steps, batch_size: 4, eval_every: 0, save_every: 0, log_every: 3 },
      logging: { progress: 'off' },
    },
    trainConfigSchema,
  );
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  const result = await train(sftConfig(runDir, 3), { logger: pino({ level: 'silent' }) });
  tf.dispose(Object.values(result.params));
  original = values(loadCheckpoint(runDir));
}, 60_000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// ---- what LLaDA's public code expects, written from configuration_llada.py and modeling_llada.py ----

/** configuration_llada.py ModelConfig defaults for the keys the modeling code reads to size tensors. */
const DATACLASS_DEFAULTS: Record<string, unknown> = {
  d_model: 768, n_heads: 12, n_kv_heads: null, n_layers: 12, mlp_ratio: 4, mlp_hidden_size: null, activation_type: 'swiglu',
  block_type: 'sequential', block_group_size: 1, alibi: false, rope: false, multi_query_attention: null,
  layer_norm_type: 'default', layer_norm_with_affine: true, include_bias: false, include_qkv_bias: false,
  bias_for_layer_norm: null, vocab_size: 50257, embedding_size: 50304, weight_tying: true, attention_layer_norm: false,
};

/**
 * The state dict LLaDAModelLM(config) has: name -> shape. modeling_llada.py: wte = Embedding(embedding_size or
 * vocab_size, d_model); per LLaDALlamaBlock attn_norm / ff_norm (weight when layer_norm_with_affine, bias when
 * bias_for_layer_norm, which defaults to include_bias), q_proj Linear(d, d), k_proj / v_proj Linear(d,
 * effective_n_kv_heads · d / n_heads), attn_out Linear(d, d), ff_proj / up_proj Linear(d, hidden), ff_out
 * Linear(hidden · act.output_multiplier, d) with hidden = mlp_hidden_size or mlp_ratio · d; ln_f; an LM head ff_out
 * Linear(d, embedding_size or vocab_size) unless weight_tying. nn.Linear(in, out).weight is [out, in].
 */
function lladaStateDict(config: Record<string, unknown>): Map<string, number[]> {
  const c = (k: string): any => (k in config ? config[k] : DATACLASS_DEFAULTS[k]); // eslint-disable-line @typescript-eslint/no-explicit-any
  expect(c('block_type')).toBe('llama');
  expect(c('block_group_size')).toBe(1);
  expect(c('rope') && !c('alibi')).toBe(true); // LLaDAModel.forward asserts both
  const d = c('d_model');
  const kvHeads = c('n_kv_heads') ?? (c('multi_query_attention') ? 1 : c('n_heads'));
  const kv = kvHeads * (d / c('n_heads'));
  const hidden = c('mlp_hidden_size') ?? c('mlp_ratio') * d;
  const ffOutIn = c('activation_type') === 'swiglu' ? hidden / 2 : hidden; // output_multiplier 0.5 for SwiGLU, else 1
  const vocab = c('embedding_size') ?? c('vocab_size');
  const bias = c('include_bias');
  const normBias = c('bias_for_layer_norm') ?? bias;
  const sd = new Map<string, number[]>();
  const linear = (name: string, inF: number, outF: number, withBias: boolean): void => {
    sd.set(`${name}.weight`, [outF, inF]);
    if (withBias) sd.set(`${name}.bias`, [outF]);
  };
  const norm = (name: string): void => {
    if (c('layer_norm_type') !== 'rms' && c('layer_norm_type') !== 'default') throw new Error('unexpected norm');
    if (c('layer_norm_with_affine')) sd.set(`${name}.weight`, [d]);
    if (c('layer_norm_with_affine') && normBias) sd.set(`${name}.bias`, [d]);
  };
  const t = 'model.transformer';
  sd.set(`${t}.wte.weight`, [vocab, d]);
  for (let i = 0; i < c('n_layers'); i++) {
    const b = `${t}.blocks.${i}`;
    norm(`${b}.attn_norm`);
    norm(`${b}.ff_norm`);
    linear(`${b}.q_proj`, d, d, bias || c('include_qkv_bias'));
    linear(`${b}.k_proj`, d, kv, bias || c('include_qkv_bias'));
    linear(`${b}.v_proj`, d, kv, bias || c('include_qkv_bias'));
    linear(`${b}.attn_out`, d, d, bias);
    linear(`${b}.ff_proj`, d, hidden, bias);
    linear(`${b}.up_proj`, d, hidden, bias);
    linear(`${b}.ff_out`, ffOutIn, d, bias);
  }
  norm(`${t}.ln_f`);
  if (!c('weight_tying')) linear(`${t}.ff_out`, d, vocab, bias);
  return sd;
}

/** Every tensor header of an exported directory: name -> {file, dtype, shape, bytes}, read straight from the bytes. */
function headers(dir: string): Map<string, { file: string; dtype: string; shape: number[]; bytes: number; format: string }> {
  const out = new Map<string, { file: string; dtype: string; shape: number[]; bytes: number; format: string }>();
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors'))) {
    const buf = fs.readFileSync(path.join(dir, file));
    const n = Number(buf.readBigUInt64LE(0));
    const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
    let covered = 0;
    for (const [name, e] of Object.entries(header as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>)) {
      if (name === '__metadata__') continue;
      expect(out.has(name), `${name} in two files`).toBe(false);
      out.set(name, { file, dtype: e.dtype, shape: e.shape, bytes: e.data_offsets[1] - e.data_offsets[0], format: header.__metadata__?.format });
      covered += e.data_offsets[1] - e.data_offsets[0];
    }
    expect(8 + n + covered).toBe(buf.length);
  }
  return out;
}

const TORCH_TO_SAFETENSORS: Record<string, [string, number]> = { float32: ['F32', 4], bfloat16: ['BF16', 2], float16: ['F16', 2] };

/** The independent check: names, shapes and dtypes of `dir` against LLaDA's code for its own config.json. */
function checkAgainstLlada(dir: string): void {
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  expect(config.model_type).toBe('llada');
  expect(config.architectures).toEqual(['LLaDAModelLM']);
  expect(config.auto_map.AutoModel).toMatch(/--modeling_llada\.LLaDAModelLM$/);
  const expected = lladaStateDict(config);
  const found = headers(dir);
  const [dtype, width] = TORCH_TO_SAFETENSORS[config.torch_dtype];
  expect([...found.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [name, shape] of expected) {
    const h = found.get(name)!;
    expect(h.shape, name).toEqual(shape);
    expect(h.dtype, name).toBe(dtype);
    expect(h.bytes, name).toBe(shape.reduce((a, b) => a * b, 1) * width);
    expect(h.format, `${name}: transformers refuses safetensors without metadata format pt`).toBe('pt');
  }
  const indexFile = path.join(dir, 'model.safetensors.index.json');
  if (fs.existsSync(indexFile)) {
    const index = JSON.parse(fs.readFileSync(indexFile, 'utf8'));
    expect(Object.keys(index.weight_map).sort()).toEqual([...expected.keys()].sort());
    for (const [name, file] of Object.entries(index.weight_map)) expect(found.get(name)!.file).toBe(file);
    expect(index.metadata.total_size).toBe([...found.values()].reduce((s, h) => s + h.bytes, 0));
  } else {
    expect(new Set([...found.values()].map((h) => h.file))).toEqual(new Set(['model.safetensors']));
  }
  // What a Hugging Face user loads the tokenizer from.
  const tokConfig = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
  expect(tokConfig.tokenizer_class).toBe('PreTrainedTokenizerFast');
  expect(tokConfig.mask_token).toBe('[MASK]');
  expect(tokConfig.chat_template).toBe("{% for message in messages %}{{ message['content'] }}{% endfor %}"); // prompts as the project trains them
  expect(JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8')).model.type).toBe('BPE');
}

describe('exportHf on a model trained here', () => {
  it('f32, one file: passes the check against LLaDA\'s code and imports back bit-exactly', () => {
    const out = path.join(tmp, 'f32');
    const r = exportHf(runDir, out, { dtype: 'f32', shardBytes: 2e9 });
    expect(r.shards).toEqual(['model.safetensors']);
    checkAgainstLlada(out);
    const back = values(loadCheckpoint(out));
    expect(Object.keys(back).sort()).toEqual(Object.keys(original).sort());
    for (const [name, v] of Object.entries(original)) {
      expect(new Uint32Array(back[name].buffer), name).toEqual(new Uint32Array(v.buffer)); // bit for bit
    }
    const card = fs.readFileSync(path.join(out, 'README.md'), 'utf8');
    expect(card).toContain('step 3');
    expect(card).toContain('task: sudoku'); // the run's config.yaml
  });

  it('bf16, sharded: passes the check; every weight is its bf16 rounding (top 16 bits, |error| <= half an ulp <= 2^-8 |x|)', () => {
    const out = path.join(tmp, 'bf16');
    const r = exportHf(runDir, out, { dtype: 'bf16', shardBytes: 2000 });
    expect(r.shards.length).toBeGreaterThan(2);
    expect(r.shards[0]).toBe(`model-00001-of-${String(r.shards.length).padStart(5, '0')}.safetensors`);
    checkAgainstLlada(out);
    const back = values(loadCheckpoint(out));
    for (const [name, v] of Object.entries(original)) {
      const bits = new Uint32Array(back[name].buffer);
      for (let i = 0; i < v.length; i++) {
        expect(bits[i] & 0xffff).toBe(0);
        expect(Math.abs(back[name][i] - v[i])).toBeLessThanOrEqual(2 ** -8 * Math.abs(v[i]));
      }
    }
    // Re-exporting the import in f32 gives the bf16 values back exactly (sharded f32 export of an imported dir).
    const again = path.join(tmp, 'bf16-again');
    exportHf(out, again, { dtype: 'f32', shardBytes: 5000 });
    checkAgainstLlada(again);
    const twice = values(loadCheckpoint(again));
    for (const name of Object.keys(back)) expect(twice[name]).toEqual(back[name]);
  });

  it('SFT starts from an exported (bf16, sharded) directory: model.init_from', async () => {
    const init = exportHf(runDir, path.join(tmp, 'sft-init-bf16'), { dtype: 'bf16', shardBytes: 2000 }).out;
    const result = await train(sftConfig(path.join(tmp, 'sft-from-bf16'), 1, init), { logger: pino({ level: 'silent' }) });
    expect(result.modelConfig).toMatchObject({ d_model: 16, n_layers: 2, mlp_hidden: 24, max_seq_len: 40, mask_token_id: 2 });
    expect(result.step).toBe(1);
    tf.dispose(Object.values(result.params));
  });

  it('diffu-GRPO starts from an exported (bf16, sharded) directory: init_from, also as the reference model', async () => {
    await saveInitCheckpoint();
    const base = grpoConfig(path.join(tmp, 'grpo'), { max_steps: 1 });
    const init = path.join(tmp, 'grpo-init-bf16');
    exportHf(base.init_from, init, { dtype: 'bf16', shardBytes: 1500 });
    const result = await trainGrpo({ ...base, init_from: init }, { logger: quiet, rewardSource: countTarget });
    expect(result.step).toBe(1);
    tf.dispose(Object.values(result.params));
  });

  it('refuses an OUT that is a non-empty directory, and leaves no partial directory behind on an error', () => {
    const out = path.join(tmp, 'busy');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'x'), '');
    expect(() => exportHf(runDir, out, { dtype: 'f32', shardBytes: 2e9 })).toThrow(`--out ${out} already exists and is not an empty directory`);
    expect(() => exportHf(path.join(tmp, 'nope'), path.join(tmp, 'never'), { dtype: 'f32', shardBytes: 2e9 })).toThrow(/does not exist/);
    expect(fs.readdirSync(tmp).filter((f) => f.startsWith('.tmp-'))).toEqual([]);
  });

  it('parses shard sizes as transformers does (GB decimal, GiB binary)', () => {
    expect(parseShardSize('2GB')).toBe(2e9);
    expect(parseShardSize('500MB')).toBe(5e8);
    expect(parseShardSize('64KiB')).toBe(65536);
    expect(parseShardSize('1234')).toBe(1234);
    expect(() => parseShardSize('2 parsecs')).toThrow("--shard-size '2 parsecs': expected a size like 2GB");
  });
});

/** Why the numpy reference cannot run here, or null when python3 with numpy is on the PATH. */
function numpyMissing(): string | null {
  try {
    execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' });
    return null;
  } catch {
    return 'skipped: python3 with numpy is not on the PATH';
  }
}
const noNumpy = numpyMissing();

describe("LLaDA's forward pass, re-implemented in numpy from modeling_llada.py (test/checkpoint/llada_forward.py)", () => {
  it.skipIf(noNumpy !== null)(noNumpy ?? 'reads the exported directories (f32 one file, bf16 shards) and computes the logits of our model', async () => {
    const ids = [[7, 6, 3, 7, 13, 2, 2, 2], [0, 0, 5, 4, 13, 2, 1, 2]]; // row 2 left-padded
    const mask = [[1, 1, 1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1, 1, 1]];
    const dirs = (['f32', 'bf16'] as const).map((dtype) => exportHf(runDir, path.join(tmp, `numpy-${dtype}`), { dtype, shardBytes: dtype === 'f32' ? 2e9 : 2000 }).out);
    const outputs = await Promise.all(dirs.map((dir) => run('python3', [path.join(REPO_ROOT, 'test', 'checkpoint', 'llada_forward.py'), dir, JSON.stringify(ids), JSON.stringify(mask)])));
    for (const [k, dir] of dirs.entries()) {
      const theirs = (JSON.parse(outputs[k].stdout) as number[][][]).flat(2);
      const model = loadModel(dir);
      const logits = tf.tidy(() => model.logitsFn(tf.tensor2d(ids, [2, 8], 'int32'), tf.tensor2d(mask, [2, 8])));
      const ours = [...logits.dataSync()];
      tf.dispose(logits);
      model.dispose();
      expect(ours.length).toBe(2 * 8 * 14);
      // Padded query rows included: both implementations mask padded keys only.
      const worst = Math.max(...ours.map((x, i) => Math.abs(x - theirs[i])));
      expect(worst, dir).toBeLessThan(1e-5);
      expect(Math.max(...ours.map(Math.abs))).toBeGreaterThan(0.01); // not trivially zero
    }
  });
});

describe('the CLIs on an exported directory', () => {
  const cli = async (script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await run('node', ['--import', 'tsx', script, ...args], { env: { ...process.env, FORCE_COLOR: '0' } });
      return { code: 0, stdout, stderr };
    } catch (e) {
      const err = e as { code: number; stdout: string; stderr: string };
      return { code: err.code, stdout: err.stdout, stderr: err.stderr };
    }
  };

  it('yarn export writes the layout, and yarn sample samples from an exported directory directly', async () => {
    const out = path.join(tmp, 'cli');
    const exported = exportHf(runDir, path.join(tmp, 'cli-bf16'), { dtype: 'bf16', shardBytes: 2000 }).out;
    const [e, s] = await Promise.all([
      cli('src/cli/export.ts', ['--checkpoint', runDir, '--out', out, '--dtype', 'f16', '--shard-size', '3KB']),
      cli('src/cli/sample.ts', ['--checkpoint', exported, '--prompt', '3102200002100320=', '--gen-length', '17', '--backend', 'cpu', '--json']),
    ]);
    expect(e.stderr).toBe('');
    expect(e.stdout).toMatch(new RegExp(`^exported .*step-000003 -> ${out} \\(f16, \\d+ bytes of weights in \\d+ file\\(s\\): model-00001-of-`));
    checkAgainstLlada(out); // F16 shards with an index
    expect(s.code).toBe(0);
    const row = JSON.parse(s.stdout.trim().split('\n').pop()!);
    expect(row.ids).toHaveLength(17); // the generated tokens
    expect(row.nfe).toBe(17);
  }, 60_000);
});
