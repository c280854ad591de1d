/**
 * Importing a Hugging Face-layout directory written by hand (not by the exporter): three shards holding F32, BF16 and
 * F16 tensors with an index; every corruption a user meets as one line naming the file and the tensor; memory while
 * loading (one tensor at a time, never a whole shard); and the model it gives on each backend, tfjs-node included when
 * its native package loads.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupBackend } from '../../src/backend/backend.ts';
import { saveCheckpoint } from '../../src/checkpoint/checkpoint.ts';
import { f32ToF16 } from '../../src/checkpoint/half.ts';
import { hfConfigFromModel } from '../../src/checkpoint/hf_config.ts';
import { loadHfCheckpoint } from '../../src/checkpoint/hf_import.ts';
import { loadModel } from '../../src/checkpoint/load_model.ts';
import { writeSafetensors, type StoredTensor } from '../../src/checkpoint/safetensors.ts';
import { inspectCheckpoint } from '../../src/config/validate_inputs.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { buildCharTokenizer } from '../../src/tokenizer/index.ts';

const tok = buildCharTokenizer('0123456789=');
const cfg: ModelConfig = {
  vocab_size: tok.vocabSize, d_model: 8, n_layers: 2, n_heads: 2, mlp_hidden: 12, max_seq_len: 16, rope_theta: 10000,
  norm_eps: 1e-5, mask_token_id: tok.maskId, eos_token_id: tok.eosId, pad_token_id: tok.padId, init_seed: 0,
};
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-import-'));
const T = 'model.transformer.';

/** Stored (PyTorch) shapes, written here from the model's description in config.ts. */
function storedShapes(): [string, number[]][] {
  const { d_model: d, mlp_hidden: m, vocab_size: V } = cfg;
  const out: [string, number[]][] = [[`${T}wte.weight`, [V, d]]];
  for (let i = 0; i < cfg.n_layers; i++) {
    out.push([`${T}blocks.${i}.attn_norm.weight`, [d]], [`${T}blocks.${i}.ff_norm.weight`, [d]]);
    for (const p of ['q_proj', 'k_proj', 'v_proj', 'attn_out']) out.push([`${T}blocks.${i}.${p}.weight`, [d, d]]);
    out.push([`${T}blocks.${i}.ff_proj.weight`, [m, d]], [`${T}blocks.${i}.up_proj.weight`, [m, d]], [`${T}blocks.${i}.ff_out.weight`, [d, m]]);
  }
  out.push([`${T}ln_f.weight`, [d]], [`${T}ff_out.weight`, [V, d]]);
  return out;
}

/** Values exact in F32, BF16 and F16 alike (k/64 with |k| < 256: 8 significant bits), different for every tensor. */
function fixtureValues(name: string, n: number): Float32Array {
  const seed = [...name].reduce((s, c) => (s * 31 + c.charCodeAt(0)) % 1000, 7);
  return Float32Array.from({ length: n }, (_, i) => (((seed + 37 * i) % 255) - 127) / 64);
}

/** The 16-bit words of values exact in bf16: the high half of each float32. */
function bf16Words(x: Float32Array): Uint16Array {
  const words = new Uint16Array(x.buffer.slice(0));
  return words.filter((_, i) => i % 2 === 1);
}

const shapes = storedShapes();
const stored = new Map(shapes.map(([name, shape]) => [name, fixtureValues(name, shape.reduce((a, b) => a * b, 1))]));
const DTYPE_OF_SHARD = ['F32', 'BF16', 'F16'] as const;
const shardOf = (i: number): number => i % 3; // tensors dealt round-robin over the three shards
const shardFile = (s: number): string => `model-0000${s + 1}-of-00003.safetensors`;

type Edit = (dir: string, index: { weight_map: Record<string, string> }) => string | void;

/** Writes the mixed-dtype sharded fixture into a fresh directory; `edit` may corrupt it, or return the index's text. */
function writeFixture(name: string, edit?: Edit): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  const shards: Record<string, StoredTensor>[] = [{}, {}, {}];
  const index = { metadata: { total_size: 0 }, weight_map: {} as Record<string, string> };
  shapes.forEach(([tensor, shape], i) => {
    const s = shardOf(i);
    const x = stored.get(tensor)!;
    const dtype = DTYPE_OF_SHARD[s];
    const data = dtype === 'F32' ? x : dtype === 'BF16' ? bf16Words(x) : Uint16Array.from(x, f32ToF16);
    shards[s][tensor] = { dtype, shape, data };
    index.weight_map[tensor] = shardFile(s);
    index.metadata.total_size += data.byteLength;
  });
  shards.forEach((tensors, s) => writeSafetensors(path.join(dir, shardFile(s)), tensors, { format: 'pt' }));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(hfConfigFromModel(cfg, 'bf16')));
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), tok.toJSON());
  const text = edit?.(dir, index);
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), text ?? JSON.stringify(index));
  return dir;
}

let good: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  good = writeFixture('good');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('import of a sharded directory with F32, BF16 and F16 shards', () => {
  it('gives every weight exactly, linear weights transposed to [in, out], in the model\'s order', () => {
    const ckpt = loadHfCheckpoint(good);
    expect(ckpt.config).toEqual(cfg);
    const names = Object.keys(ckpt.params);
    expect(names[0]).toBe(`${T}wte.weight`);
    expect(names.slice(1, 6)).toEqual(['attn_norm', 'q_proj', 'k_proj', 'v_proj', 'attn_out'].map((p) => `${T}blocks.0.${p}.weight`));
    for (const [name, shape] of shapes) {
      const got = ckpt.params[name];
      const x = stored.get(name)!;
      if (shape.length === 2 && name !== `${T}wte.weight`) {
        const [out, inp] = shape; // stored [out, in]; in memory [in, out]: got[j][i] = stored[i][j]
        expect(got.shape, name).toEqual([inp, out]);
        const g = got.dataSync();
        for (let i = 0; i < out; i++) for (let j = 0; j < inp; j++) if (g[j * out + i] !== x[i * inp + j]) throw new Error(`${name}[${i}, ${j}]`);
      } else {
        expect(got.shape, name).toEqual(shape);
        expect(got.dataSync(), name).toEqual(x);
      }
    }
    tf.dispose(Object.values(ckpt.params));
  });

  it('reads one tensor at a time (never a whole shard), each byte once, and holds only the float32 model after', () => {
    const before = tf.memory().numBytes;
    const reads: { name: string; bytes: number; floatBytes: number }[] = [];
    const ckpt = loadHfCheckpoint(good, (span, floatBytes) => reads.push({ name: span.name, bytes: span.bytes, floatBytes }));
    const shardBytes = [0, 1, 2].map((s) => fs.statSync(path.join(good, shardFile(s))).size);
    const tensorBytes = new Map(shapes.map(([name, shape], i) => [name, shape.reduce((a, b) => a * b, 1) * (DTYPE_OF_SHARD[shardOf(i)] === 'F32' ? 4 : 2)]));
    expect(reads.map((r) => r.name)).toEqual(Object.keys(ckpt.params)); // in model order, each tensor read once
    for (const r of reads) expect(r.bytes, r.name).toBe(tensorBytes.get(r.name)); // its own bytes, nothing more
    expect(Math.max(...reads.map((r) => r.bytes))).toBe(Math.max(...tensorBytes.values()));
    expect(Math.max(...reads.map((r) => r.bytes))).toBeLessThan(Math.min(...shardBytes) / 2);
    const modelBytes = shapes.reduce((s, [, shape]) => s + 4 * shape.reduce((a, b) => a * b, 1), 0);
    expect(reads.reduce((s, r) => s + r.floatBytes, 0)).toBe(modelBytes);
    expect(tf.memory().numBytes - before).toBe(modelBytes);
    tf.dispose(Object.values(ckpt.params));
    expect(tf.memory().numBytes).toBe(before);
  });

  it('passes the checks the CLIs run before loading (inspectCheckpoint), limits from config.json', () => {
    const info = inspectCheckpoint(good, '--checkpoint');
    expect(info.limits.max_seq_len).toBe(16);
    expect(info.tokenizer.vocabSize).toBe(cfg.vocab_size);
  });
});

/** Shard 1 again, with its first tensor (the embedding) replaced. */
function rewriteShard0(dir: string, wte: StoredTensor): void {
  const tensors: Record<string, StoredTensor> = { [`${T}wte.weight`]: wte };
  shapes.forEach(([name, shape], i) => {
    if (shardOf(i) === 0 && name !== `${T}wte.weight`) tensors[name] = { dtype: 'F32', shape, data: stored.get(name)! };
  });
  writeSafetensors(path.join(dir, shardFile(0)), tensors, { format: 'pt' });
}

describe('a corrupt directory is one line naming the file and the tensor', () => {
  const cases: [string, Edit, RegExp][] = [
    ['index that is not JSON', () => '{"weight_map": {\n  "a": 1,,\n}}', /model\.safetensors\.index\.json:2:10: /],
    ['missing shard', (dir) => fs.rmSync(path.join(dir, shardFile(2))), /^\S+model\.safetensors\.index\.json: weight_map\["model\.transformer\.[\w.]+"\] names model-00003-of-00003\.safetensors, which does not exist in \S+ \(missing shard\?\)$/],
    ['index pointing at the wrong shard', (_, index) => { index.weight_map[`${T}ln_f.weight`] = shardFile(0); }, /weight_map puts model\.transformer\.ln_f\.weight in model-00001-of-00003\.safetensors, which has no such tensor/],
    ['tensor missing everywhere', (_, index) => { delete index.weight_map[`${T}ff_out.weight`]; }, /tensor model\.transformer\.ff_out\.weight is not listed for this file in model\.safetensors\.index\.json/],
    ['wrong shape', (dir) => rewriteShard0(dir, { dtype: 'F32', shape: [cfg.vocab_size, 4], data: new Float32Array(cfg.vocab_size * 4) }), /model-00001-of-00003\.safetensors: tensor model\.transformer\.wte\.weight has shape \[14,4\], config\.json implies \[14,8\]/],
    ['truncated shard', (dir) => fs.truncateSync(path.join(dir, shardFile(1)), fs.statSync(path.join(dir, shardFile(1))).size - 3), /model-00002-of-00003\.safetensors: .*truncated/],
    ['unsupported dtype', (dir) => rewriteShard0(dir, { dtype: 'I32', shape: [cfg.vocab_size, 8], data: new Int32Array(cfg.vocab_size * 8) }), /tensor 'model\.transformer\.wte\.weight': unsupported dtype "I32" \(F32, F16, BF16\)/],
    ['config asking for biases', (dir) => fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...hfConfigFromModel(cfg, 'f32'), include_bias: true })), /config\.json: include_bias \(true\) is not supported: the model has no biases/],
    ['config whose mask id is not the tokenizer\'s', (dir) => fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...hfConfigFromModel(cfg, 'f32'), mask_token_id: 7 })), /config\.json: mask_token_id \(7\) differs from tokenizer\.json's \(2\)/],
  ];
  it.each(cases)('%s', (name, edit, message) => {
    const dir = writeFixture(name.replace(/\W+/g, '-'), edit);
    const numTensors = tf.memory().numTensors;
    for (const load of [() => loadHfCheckpoint(dir), () => inspectCheckpoint(dir, '--checkpoint'), () => loadModel(dir)]) {
      let err: Error | null = null;
      try {
        load();
      } catch (e) {
        err = e as Error;
      }
      expect(err?.message).toMatch(message);
      expect(err?.message).not.toContain('\n');
      expect(['DataError', 'ConfigError']).toContain(err?.name);
    }
    expect(tf.memory().numTensors).toBe(numTensors); // nothing left behind by a failed load
  });
});

// ---- the same model on every backend; tfjs-node(-gpu) when its native package loads ----

/** Whether @tensorflow/tfjs-node loads here (it does not install without access to Google's storage). */
async function nativeBackend(): Promise<string | null> {
  try {
    await setupBackend('tensorflow');
    return null;
  } catch (e) {
    return (e as Error).message.split(';')[0];
  }
}
const nativeMissing = await nativeBackend();
const BACKENDS: [string, string | null][] = [
  ['cpu', null],
  ['wasm', null],
  ['tensorflow', nativeMissing && `skipped: ${nativeMissing} (see README "Scaling up" to install it)`],
];

describe.each(BACKENDS)('on the %s backend', (backend, skip) => {
  it.skipIf(skip !== null)(skip ?? 'the imported model computes the same logits as the same weights saved in the project\'s layout', async () => {
    await setupBackend(backend as 'cpu');
    const ckpt = loadHfCheckpoint(good);
    const ownDir = await saveCheckpoint(path.join(tmp, `own-${backend}`), 'step-000001', { config: cfg, params: ckpt.params, tokenizerJson: tok.toJSON() });
    tf.dispose(Object.values(ckpt.params));
    const [hf, own] = [loadModel(good), loadModel(ownDir)];
    const ids = tf.tensor2d([[4, 5, 13, 2, 2, 1], [0, 6, 13, 2, 3, 2]], [2, 6], 'int32');
    const [a, b] = [tf.tidy(() => hf.logitsFn(ids, null)), tf.tidy(() => own.logitsFn(ids, null))];
    expect(a.shape).toEqual([2, 6, cfg.vocab_size]);
    expect(a.dataSync()).toEqual(b.dataSync()); // same weights, same ops: bit for bit
    tf.dispose([a, b, ids]);
    hf.dispose();
    own.dispose();
  });
});
