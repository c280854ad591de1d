/** The causal variant (cfg.causal): the mask, the KV-cache decoder against the full forward, the next-token weights. */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { setupBackend } from '../../src/backend/backend.ts';
import { Rng } from '../../src/rng.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { forward, initParams } from '../../src/model/model.ts';
import { cachedDecoder } from '../../src/model/kv_cache.ts';
import { nextTokenBatch } from '../../src/diffusion/next_token.ts';
import { generateAutoregressive } from '../../src/sampling/autoregressive.ts';

const cfg: ModelConfig = {
  vocab_size: 11, d_model: 16, n_layers: 2, n_heads: 2, mlp_hidden: 24, max_seq_len: 16, rope_theta: 10000, norm_eps: 1e-5,
  mask_token_id: 2, eos_token_id: 1, pad_token_id: 0, init_seed: 5, causal: true,
};

beforeAll(async () => {
  await setupBackend('cpu');
});

describe('causal model', () => {
  it('a position never sees later tokens; the bidirectional model does', () => {
    const params = initParams(cfg);
    const a = tf.tensor2d([[3, 4, 5, 6, 7]], [1, 5], 'int32');
    const b = tf.tensor2d([[3, 4, 5, 9, 10]], [1, 5], 'int32');
    const la = forward(params, cfg, a).arraySync()[0];
    const lb = forward(params, cfg, b).arraySync()[0];
    expect(lb.slice(0, 3)).toEqual(la.slice(0, 3)); // positions 0..2 identical, bit for bit
    expect(lb[3]).not.toEqual(la[3]);
    const bi = { ...cfg, causal: undefined };
    expect(forward(params, bi, b).arraySync()[0][0]).not.toEqual(forward(params, bi, a).arraySync()[0][0]);
    tf.dispose([a, b, ...Object.values(params)]);
  });

  it('the KV-cache decoder gives the full forward pass logits, with left padding too', () => {
    const params = initParams(cfg);
    const rows = [[0, 0, 3, 4], [5, 6, 7, 8]]; // row 0 left-padded
    const mask = tf.tensor2d([[0, 0, 1, 1], [1, 1, 1, 1]]);
    const dec = cachedDecoder(params, cfg);
    const got: number[][][] = [dec.start(tf.tensor2d(rows, [2, 4], 'int32'), mask).arraySync() as number[][]];
    const next = [[9, 10], [3, 4]];
    for (let k = 0; k < 2; k++) got.push(dec.next(tf.tensor1d([next[0][k], next[1][k]], 'int32')).arraySync() as number[][]);
    const full = [[...rows[0], ...next[0]], [...rows[1], ...next[1]]];
    const fullMask = tf.concat([mask, tf.ones([2, 2])], 1) as tf.Tensor2D;
    const ref = forward(params, cfg, tf.tensor2d(full, [2, 6], 'int32'), fullMask).arraySync();
    for (let k = 0; k < 3; k++) for (let r = 0; r < 2; r++) for (let v = 0; v < cfg.vocab_size; v++) expect(got[k][r][v]).toBeCloseTo(ref[r][3 + k][v], 4);
    expect(dec.nfe()).toBe(3);
    const before = tf.memory().numTensors;
    dec.end();
    expect(tf.memory().numTensors).toBeLessThan(before);
    tf.dispose(Object.values(params));
  });

  it('greedy generation equals argmax of the full forward at each step, never [MASK], and stops at EOS', async () => {
    const params = initParams(cfg);
    const out = await generateAutoregressive(cachedDecoder(params, cfg), { prompts: [[3, 4, 5]], gen_length: 4, maskId: 2, eosId: 1, padId: 0, rng: new Rng(0) });
    const seq = [3, 4, 5];
    for (const tok of out.sequences[0]) {
      if (tok === 1) break;
      const logits = forward(params, cfg, tf.tensor2d([seq], [1, seq.length], 'int32')).arraySync()[0][seq.length - 1];
      logits[2] = -Infinity;
      logits[0] = -Infinity;
      expect(tok).toBe(logits.indexOf(Math.max(...logits)));
      seq.push(tok);
    }
    expect(out.full[0].slice(0, 3)).toEqual([3, 4, 5]);
    tf.dispose(Object.values(params));
  });

  it('next-token weights: answer targets only, per-row mean (llada) or per-batch (d1)', () => {
    // B 2, L 4; prompt lengths 1 and 2: row 0 trains positions 0..2 (targets ids[1..3]), row 1 positions 1..2.
    const ids = Int32Array.from([3, 4, 5, 1, 6, 7, 8, 1]);
    const b = nextTokenBatch(ids, [1, 2], 2, 4);
    expect(Array.from(b.targets)).toEqual([4, 5, 1, 1, 7, 8, 1, 1]);
    expect(Array.from(b.weights)).toEqual([1 / 3, 1 / 3, 1 / 3, 0, 0, 0.5, 0.5, 0].map(Math.fround));
    expect(Array.from(nextTokenBatch(ids, [1, 2], 2, 4, 'd1').weights)).toEqual([0.4, 0.4, 0.4, 0, 0, 0.4, 0.4, 0].map(Math.fround));
    expect(Array.from(nextTokenBatch(ids, null, 2, 4).weights)).toEqual([1 / 3, 1 / 3, 1 / 3, 0, 1 / 3, 1 / 3, 1 / 3, 0].map(Math.fround));
  });
});
