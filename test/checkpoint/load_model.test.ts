import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { saveCheckpoint } from '../../src/checkpoint/checkpoint.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { loadModel, paramsFromTensors } from '../../src/checkpoint/load_model.ts';
import { disposeParams, forward, initParams, paramShapes, type Params } from '../../src/model/model.ts';
import { buildCharTokenizer } from '../../src/tokenizer/index.ts';

const tok = buildCharTokenizer('0123456789=');
const cfg: ModelConfig = {
  vocab_size: tok.vocabSize, d_model: 16, n_layers: 1, n_heads: 2, mlp_hidden: 32, max_seq_len: 16, rope_theta: 10000,
  norm_eps: 1e-5, mask_token_id: tok.maskId, eos_token_id: tok.eosId, pad_token_id: tok.padId, init_seed: 3,
};
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'load-'));
let params: Params;

async function save(run: string, config: object, p: Params = params): Promise<string> {
  return saveCheckpoint(path.join(tmp, run), 'step-000001', { config, params: p, tokenizerJson: tok.toJSON() });
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  params = initParams(cfg);
  await save('good', cfg);
});
afterAll(() => {
  disposeParams(params);
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('loadModel', () => {
  it('resolves a run dir to its latest checkpoint and returns config, tokenizer and frozen variables', () => {
    const m = loadModel(path.join(tmp, 'good'));
    expect(m.dir).toBe(path.join(tmp, 'good', 'step-000001'));
    expect(m.config).toEqual(cfg);
    expect(m.cfg).toBe(m.config);
    expect(m.tokenizer.decode(m.tokenizer.encode('12=3'))).toBe('12=3');
    expect(Object.keys(m.params)).toEqual(Object.keys(paramShapes(cfg)));
    for (const v of Object.values(m.params)) {
      expect(v).toBeInstanceOf(tf.Variable);
      expect(v.trainable).toBe(false);
    }
    m.dispose();
    const t = loadModel(path.join(tmp, 'good', 'step-000001'), { trainable: true });
    expect(Object.values(t.params).every((v) => v.trainable)).toBe(true);
    t.dispose();
  });

  it('logitsFn reproduces the saved model, and dispose frees every tensor it made', async () => {
    const before = tf.memory().numTensors;
    const m = loadModel(path.join(tmp, 'good'));
    const ids = tf.tensor2d([[4, 5, 13, 2, 2], [0, 6, 13, 2, 1]], [2, 5], 'int32');
    const am = tf.tensor2d([[1, 1, 1, 1, 1], [0, 1, 1, 1, 1]], [2, 5]);
    const got = tf.tidy(() => m.logitsFn(ids, am));
    const want = tf.tidy(() => forward(params, cfg, ids, am));
    expect(got.shape).toEqual([2, 5, tok.vocabSize]);
    const [g, w] = [await got.data(), await want.data()];
    expect(Math.max(...g.map((x, i) => Math.abs(x - w[i])))).toBeLessThan(1e-6);
    tf.dispose([got, want, ids, am]);
    m.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a config whose vocab_size differs from tokenizer.json is an error naming the dir', async () => {
    const bigger = { ...cfg, vocab_size: tok.vocabSize + 2 };
    const p = initParams(bigger);
    const dir = await save('vocab', bigger, p);
    disposeParams(p);
    const before = tf.memory().numTensors;
    expect(() => loadModel(dir)).toThrow(ConfigError);
    expect(() => loadModel(dir)).toThrow(`${dir}: config.json vocab_size (${tok.vocabSize + 2}) differs from the vocabulary size of tokenizer.json (${tok.vocabSize})`);
    expect(tf.memory().numTensors).toBe(before); // nothing leaked on the error path
  });

  it('special token ids must agree with the tokenizer; bad sizes and missing paths are named', async () => {
    const dir = await save('ids', { ...cfg, mask_token_id: 5 });
    expect(() => loadModel(dir)).toThrow(`${dir}: config.json mask_token_id (5) differs from tokenizer.json's (${tok.maskId})`);
    const noLayers = await save('nolayers', { ...cfg, n_layers: undefined });
    expect(() => loadModel(noLayers)).toThrow(`${noLayers}/config.json: n_layers (undefined) must be an integer >= 1`);
    expect(() => loadModel('/no/such/ckpt')).toThrow('resolveCheckpoint: /no/such/ckpt does not exist');
  });
});

describe('paramsFromTensors', () => {
  it('names a missing or misshapen parameter and frees the variables it made', () => {
    const tensors: Record<string, tf.Tensor> = { ...params };
    const last = Object.keys(paramShapes(cfg)).pop()!;
    const wrong = tf.zeros([3, 3]);
    tensors[last] = wrong;
    const before = tf.memory().numTensors;
    expect(() => paramsFromTensors(tensors, cfg, false, 'somewhere')).toThrow(`somewhere: parameter ${last} expected shape [16,${tok.vocabSize}], got [3,3]`);
    expect(tf.memory().numTensors).toBe(before);
    delete tensors[last];
    expect(() => paramsFromTensors(tensors, cfg, false, 'x')).toThrow(`x: parameter ${last} expected shape [16,${tok.vocabSize}], got nothing`);
    wrong.dispose();
  });
});
