import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { setupBackend } from '../../src/backend/backend.ts';
import { ShapeError } from '../../src/errors.ts';
import { storedTransposed, type ModelConfig } from '../../src/model/config.ts';
import { cloneParams, countParams, disposeParams, forward, initParams, paramShapes, type Params } from '../../src/model/model.ts';
import { oneHotF32 } from '../../src/model/ops.ts';

const cfg: ModelConfig = {
  vocab_size: 11, d_model: 16, n_layers: 2, n_heads: 2, mlp_hidden: 32, max_seq_len: 8,
  rope_theta: 10000, norm_eps: 1e-5, mask_token_id: 10, eos_token_id: 1, pad_token_id: 0, init_seed: 7,
};
const B = 2;
const L = 7;
const IDS = [[3, 10, 5, 10, 2, 1, 1], [0, 0, 4, 10, 10, 6, 1]]; // row 1 is left-padded
const MASK = [[1, 1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1, 1]];
const TARGETS = [[3, 7, 5, 9, 2, 1, 1], [0, 0, 4, 8, 3, 6, 1]];
const WEIGHTS = [[0, 2, 0, 2, 0, 0, 0], [0, 0, 0, 1.5, 1.5, 0, 0]]; // CE only on masked positions

/** Masked CE: sum w·CE / B, with the target picked by a float one-hot. */
function maskedCE(logits: tf.Tensor3D): tf.Scalar {
  const V = logits.shape[2];
  const logp = tf.logSoftmax(tf.reshape(logits, [B * L, V])); // [B·L, V]
  const picked = tf.sum(tf.mul(logp, oneHotF32(tf.tensor1d(TARGETS.flat(), 'int32'), V)), 1); // [B·L]
  return tf.div(tf.neg(tf.sum(tf.mul(picked, tf.tensor1d(WEIGHTS.flat())))), B) as tf.Scalar;
}

async function run(params: Params): Promise<{ logits: Float32Array; loss: number; grads: Record<string, Float32Array> }> {
  const ids = tf.tensor2d(IDS, [B, L], 'int32');
  const mask = tf.tensor2d(MASK, [B, L], 'int32');
  const logits = tf.tidy(() => forward(params, cfg, ids, mask));
  const { value, grads } = tf.variableGrads(() => maskedCE(forward(params, cfg, ids, mask)));
  const out = { logits: (await logits.data()) as Float32Array, loss: (await value.data())[0], grads: {} as Record<string, Float32Array> };
  for (const [name, v] of Object.entries(params)) out.grads[name] = (await grads[v.name].data()) as Float32Array;
  tf.dispose([ids, mask, logits, value, ...Object.values(grads)]);
  return out;
}

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 1e-20;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(a[i]));
  }
  return num / den;
}

function logitsOf(params: Params, ids: number[][], mask: number[][] | null): number[][][] {
  return tf.tidy(() => forward(params, cfg, tf.tensor2d(ids, [ids.length, ids[0].length], 'int32'), mask ? tf.tensor2d(mask) : null).arraySync());
}

describe('LLaDA transformer', () => {
  beforeAll(async () => {
    await setupBackend('cpu');
  });

  it('parameter names and in-memory shapes follow LLaDA', () => {
    const shapes = paramShapes(cfg);
    const names = Object.keys(shapes);
    expect(names.length).toBe(3 + 9 * cfg.n_layers);
    expect(shapes['model.transformer.wte.weight']).toEqual([11, 16]);
    expect(shapes['model.transformer.ln_f.weight']).toEqual([16]);
    expect(shapes['model.transformer.ff_out.weight']).toEqual([16, 11]); // LM head, [in, out]
    for (const i of [0, 1]) {
      const p = `model.transformer.blocks.${i}.`;
      expect(shapes[`${p}attn_norm.weight`]).toEqual([16]);
      expect(shapes[`${p}ff_norm.weight`]).toEqual([16]);
      for (const w of ['q_proj', 'k_proj', 'v_proj', 'attn_out']) expect(shapes[`${p}${w}.weight`]).toEqual([16, 16]);
      expect(shapes[`${p}ff_proj.weight`]).toEqual([16, 32]);
      expect(shapes[`${p}up_proj.weight`]).toEqual([16, 32]);
      expect(shapes[`${p}ff_out.weight`]).toEqual([32, 16]);
    }
    // every 2-D weight except the embedding is a linear stored [in, out], transposed in checkpoints
    for (const n of names) expect(storedTransposed(n)).toBe(shapes[n].length === 2 && n !== 'model.transformer.wte.weight');
  });

  it('initialisation: deterministic, std 0.02, scaled output projections, unit norms, unique variable names', () => {
    const a = initParams(cfg);
    const b = initParams(cfg);
    expect(countParams(a)).toBe(Object.values(paramShapes(cfg)).reduce((s, sh) => s + sh.reduce((x, y) => x * y, 1), 0));
    for (const n of Object.keys(a)) expect(Array.from(a[n].dataSync())).toEqual(Array.from(b[n].dataSync()));
    expect(new Set([...Object.values(a), ...Object.values(b)].map((v) => v.name)).size).toBe(2 * Object.keys(a).length);
    const std = (n: string) => {
      const x = Array.from(a[n].dataSync());
      return Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
    };
    expect(std('model.transformer.wte.weight')).toBeCloseTo(0.02, 2);
    expect(std('model.transformer.blocks.0.ff_proj.weight')).toBeCloseTo(0.02, 2);
    expect(std('model.transformer.blocks.1.ff_out.weight') / 0.02).toBeCloseTo(1 / Math.sqrt(4), 1);
    expect(std('model.transformer.blocks.0.attn_out.weight') / 0.02).toBeCloseTo(1 / Math.sqrt(4), 1);
    expect(Array.from(a['model.transformer.ln_f.weight'].dataSync())).toEqual(new Array(16).fill(1));
    const other = initParams({ ...cfg, init_seed: 8 });
    expect(Array.from(other['model.transformer.wte.weight'].dataSync())).not.toEqual(Array.from(a['model.transformer.wte.weight'].dataSync()));
    [a, b, other].forEach(disposeParams);
  });

  it('cloneParams is a deep copy with its own trainable flag', () => {
    const p = initParams(cfg);
    const ref = cloneParams(p, false);
    const name = 'model.transformer.ln_f.weight';
    p[name].assign(tf.zeros([16]));
    expect(Array.from(ref[name].dataSync())).toEqual(new Array(16).fill(1));
    expect(ref[name].trainable).toBe(false);
    expect(ref[name].name).not.toBe(p[name].name);
    disposeParams(p);
    expect(ref['model.transformer.wte.weight'].dataSync().length).toBe(11 * 16);
    disposeParams(ref);
  });

  it('attention is bidirectional: the last token changes the logits at position 0', () => {
    const p = initParams(cfg);
    const a = logitsOf(p, [[3, 4, 5, 6]], null)[0][0];
    const b = logitsOf(p, [[3, 4, 5, 9]], null)[0][0];
    expect(relErr(a, b)).toBeGreaterThan(1e-4);
    disposeParams(p);
  });

  it('key padding: a padded token id does not change the logits at real positions', () => {
    const p = initParams(cfg);
    const mask = [[0, 0, 1, 1, 1]];
    const a = logitsOf(p, [[0, 0, 4, 5, 6]], mask)[0];
    const b = logitsOf(p, [[7, 2, 4, 5, 6]], mask)[0];
    for (const pos of [2, 3, 4]) expect(b[pos]).toEqual(a[pos]);
    const c = logitsOf(p, [[7, 2, 4, 5, 6]], null)[0]; // without the mask the padding is attended
    expect(relErr(a[2], c[2])).toBeGreaterThan(1e-4);
    const allPad = logitsOf(p, [[0, 0, 0]], [[0, 0, 0]]).flat(2); // a fully padded row stays finite
    expect(allPad.every(Number.isFinite)).toBe(true);
    disposeParams(p);
  });

  it('validates ids and mask shapes', () => {
    const p = initParams(cfg);
    expect(() => forward(p, cfg, tf.zeros([1, 3]) as tf.Tensor2D)).toThrow(/forward: ids must be int32, got float32/);
    expect(() => forward(p, cfg, tf.zeros([1, 9], 'int32') as tf.Tensor2D)).toThrow(/L = 9 exceeds max_seq_len 8/);
    expect(() => forward(p, cfg, tf.zeros([3], 'int32') as unknown as tf.Tensor2D)).toThrow(ShapeError);
    expect(() => forward(p, cfg, tf.zeros([1, 3], 'int32') as tf.Tensor2D, tf.ones([1, 4]) as tf.Tensor2D)).toThrow(/attentionMask expected \[B, L\] = \[1, 3\], got \[1, 4\]/);
    const missing = { ...p };
    delete missing['model.transformer.ln_f.weight'];
    expect(() => forward(missing, cfg, tf.zeros([1, 3], 'int32') as tf.Tensor2D)).toThrow(/model.transformer.ln_f.weight is missing/);
    disposeParams(p);
  });

  it('cols: the last block on some columns only gives the full pass’s logits there, and the same gradients', () => {
    const p = initParams(cfg);
    const ids = tf.tensor2d(IDS, [B, L], 'int32');
    const mask = tf.tensor2d(MASK, [B, L], 'int32');
    const full = tf.tidy(() => forward(p, cfg, ids, mask).arraySync());
    const before = tf.memory().numTensors;
    for (const [s, e] of [[0, 3], [2, 5], [4, 7], [6, 7]] as const) {
      const part = tf.tidy(() => forward(p, cfg, ids, mask, [s, e]).arraySync());
      expect([part.length, part[0].length, part[0][0].length]).toEqual([B, e - s, cfg.vocab_size]);
      for (let b = 0; b < B; b++) expect(relErr(full[b].slice(s, e).flat(), part[b].flat())).toBeLessThan(1e-5);
      // a loss on those columns: the same gradient for every parameter as through the full pass
      const colW = tf.tensor2d(WEIGHTS.map((r) => r.map((w, l) => (l >= s && l < e ? w + 0.5 : 0))));
      const lossOn = (logits: tf.Tensor3D, from: number) => {
        const w = tf.slice(colW, [0, from], [B, logits.shape[1]]); // [B, T]
        return tf.sum(tf.mul(tf.logSumExp(logits, -1), w)) as tf.Scalar; // Σ w · logsumexp(logits) on [s, e)
      };
      const gFull = tf.variableGrads(() => lossOn(tf.slice(forward(p, cfg, ids, mask), [0, s, 0], [B, e - s, -1]), s));
      const gPart = tf.variableGrads(() => lossOn(forward(p, cfg, ids, mask, [s, e]), s));
      expect(Math.abs(gFull.value.dataSync()[0] - gPart.value.dataSync()[0])).toBeLessThan(1e-4);
      for (const v of Object.values(p)) expect(relErr(gFull.grads[v.name].dataSync(), gPart.grads[v.name].dataSync()), v.name).toBeLessThan(1e-4);
      tf.dispose([colW, gFull.value, gPart.value, ...Object.values(gFull.grads), ...Object.values(gPart.grads)]);
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(() => forward(p, cfg, ids, mask, [3, 3])).toThrow(/forward: columns \[3, 3\) must lie inside \[0, 7\)/);
    expect(() => forward(p, cfg, ids, mask, [5, 8])).toThrow(/columns \[5, 8\)/);
    expect(() => forward(p, { ...cfg, causal: true }, ids, mask, [2, 5])).toThrow(/bidirectional model \(config causal is true\)/);
    tf.dispose([ids, mask]);
    disposeParams(p);
  });

  it('leaks no tensors: forward + gradients inside tf.tidy', () => {
    const p = initParams(cfg);
    const ids = tf.tensor2d(IDS, [B, L], 'int32');
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const { grads } = tf.variableGrads(() => maskedCE(forward(p, cfg, ids, tf.tensor2d(MASK))));
      expect(Object.keys(grads).length).toBe(Object.keys(p).length);
    });
    expect(tf.memory().numTensors).toBe(before);
    ids.dispose();
    disposeParams(p);
  });

  it('cpu and wasm agree on logits, masked CE and every gradient (rel. err <= 1e-4)', async () => {
    await setupBackend('cpu');
    const pc = initParams(cfg);
    const values = Object.fromEntries(Object.entries(pc).map(([n, v]) => [n, { data: v.dataSync().slice(), shape: v.shape }]));
    const c = await run(pc);
    disposeParams(pc);
    await setupBackend('wasm');
    const pw: Params = {};
    for (const [n, { data, shape }] of Object.entries(values)) pw[n] = tf.variable(tf.tensor(data, shape), true, `wasm-copy/${n}`);
    const w = await run(pw);
    expect(Number.isFinite(c.loss) && c.loss > 0).toBe(true);
    expect(relErr(c.logits, w.logits)).toBeLessThanOrEqual(1e-4);
    expect(Math.abs(c.loss - w.loss) / c.loss).toBeLessThanOrEqual(1e-4);
    for (const n of Object.keys(values)) {
      const g = c.grads[n];
      expect(g.some((x) => x !== 0), `${n} has a zero gradient`).toBe(true);
      expect(relErr(g, w.grads[n]), n).toBeLessThanOrEqual(1e-4);
    }
    disposeParams(pw);
    await setupBackend('cpu');
  });
});
