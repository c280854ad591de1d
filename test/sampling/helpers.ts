/** Tiny hand-made LogitsFns for the sampler tests. Token ids: 0..V-4 ordinary, then EOS, PAD, MASK. */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../src/rng.ts';
import type { LogitsFn } from '../../src/sampling/types.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { initParams, type Params } from '../../src/model/model.ts';

export const V = 12;
export const EOS = 9;
export const PAD = 10;
export const MASK = 11;
export const IDS = { maskId: MASK, eosId: EOS, padId: PAD };

/** Logits from a fixed random table [L, V] by absolute position; ignores the ids. */
export function tableLogits(L: number, seed: number, scale = 3): { fn: LogitsFn; table: number[][] } {
  const rng = new Rng(seed, 'table');
  const table = Array.from({ length: L }, () => Array.from({ length: V }, () => scale * rng.normal()));
  const fn: LogitsFn = (ids) => {
    const [N, Lx] = ids.shape;
    if (Lx !== L) throw new Error(`tableLogits built for L = ${L}, got ${Lx}`);
    return tf.tile(tf.tensor3d(table.flat(), [1, L, V]), [N, 1, 1]) as tf.Tensor3D;
  };
  return { fn, table };
}

function hash(h: number, v: number): number {
  h = Math.imul(h ^ (v + 0x9e3779b9), 0x85ebca6b);
  return (h ^ (h >>> 13)) >>> 0;
}

/**
 * Logits that depend on the current ids, read in JS: position i of row n gets pseudo-random logits seeded by its
 * position relative to the first real token and by the real tokens of the row (masks included). Left padding
 * (attention mask 0) is ignored completely, so a padded row behaves exactly like the same row unpadded.
 */
export function contextLogits(seed: number, scale = 4): LogitsFn {
  return (ids, am) => {
    const x = ids.arraySync();
    const m = am ? am.arraySync() : null;
    const N = x.length;
    const L = x[0].length;
    const out = new Float32Array(N * L * V);
    for (let n = 0; n < N; n++) {
      const real = x[n].map((_, l) => (m ? m[n][l] > 0 : true));
      const pad = real.indexOf(true) === -1 ? L : real.indexOf(true);
      let ctx = seed >>> 0;
      for (let l = pad; l < L; l++) ctx = hash(ctx, x[n][l] * 1000 + (l - pad));
      for (let l = 0; l < L; l++) {
        let h = hash(ctx, l - pad);
        for (let v = 0; v < V; v++) {
          h = hash(h, v);
          out[(n * L + l) * V + v] = scale * (h / 4294967296 - 0.5);
        }
      }
    }
    return tf.tensor3d(out, [N, L, V]);
  };
}

export function countIn(row: number[], start: number, end: number, token: number): number {
  return row.slice(start, end).filter((t) => t === token).length;
}

export async function useBackend(name: 'cpu' | 'wasm'): Promise<void> {
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) throw new Error(`could not switch to ${name}`);
}

export function logSoftmax(z: number[]): number[] {
  const m = Math.max(...z);
  const lse = m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0));
  return z.map((v) => v - lse);
}

/** logits[n, l, :] = T[l] + (ids[n, l] == MASK ? M[l] : 0), so masking visibly changes the prediction. */
export function maskAwareTable(L: number, seed: number): { fn: LogitsFn; T: number[][]; M: number[][] } {
  const T = tableLogits(L, seed).table;
  const M = tableLogits(L, seed + 100).table;
  const fn: LogitsFn = (ids) =>
    tf.tidy(() => {
      const isM = tf.expandDims(tf.cast(tf.equal(ids, MASK), 'float32'), 2); // [N, L, 1]
      return tf.add(tf.tensor3d(T.flat(), [1, L, V]), tf.mul(isM, tf.tensor3d(M.flat(), [1, L, V]))) as tf.Tensor3D;
    });
  return { fn, T, M };
}

/** A tiny bidirectional model, weights scaled up so its logits are far from uniform and attention is not flat. */
export function tinyModel(n_layers: number, seed = 3): { cfg: ModelConfig; params: Params } {
  const cfg: ModelConfig = { vocab_size: V, d_model: 16, n_layers, n_heads: 2, mlp_hidden: 32, max_seq_len: 16, rope_theta: 10000, norm_eps: 1e-5,
    mask_token_id: MASK, eos_token_id: EOS, pad_token_id: PAD, init_seed: seed };
  const params = initParams(cfg);
  for (const [name, p] of Object.entries(params)) {
    const scale = /wte|transformer\.ff_out/.test(name) ? 40 : /q_proj|k_proj|v_proj|attn_out/.test(name) ? 20 : 1;
    p.assign(tf.tidy(() => tf.mul(p, scale)));
  }
  return { cfg, params };
}

