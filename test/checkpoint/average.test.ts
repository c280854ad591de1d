import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { averageCheckpoints } from '../../src/checkpoint/average.ts';
import { loadCheckpoint, saveCheckpoint } from '../../src/checkpoint/checkpoint.ts';
import { readLatest } from '../../src/checkpoint/resolve.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'average-test-'));
beforeAll(async () => {
  expect(await tf.setBackend('cpu')).toBe(true);
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const W = 'model.transformer.blocks.0.q_proj.weight'; // stored transposed: the average must not care
const N = 'model.transformer.blocks.0.attn_norm.weight';
const TOK = '{"version":"1.0"}';

/** A checkpoint of one run at `step` with the given weights ([in=2, out=3] and a norm of 2). */
async function save(run: string, step: number, w: number[], n: number[], config: object = { d_model: 2 }): Promise<string> {
  const params = { [W]: tf.tensor2d(w, [2, 3]), [N]: tf.tensor1d(n) };
  try {
    return await saveCheckpoint(run, `step-${String(step).padStart(6, '0')}`, {
      config, params, tokenizerJson: TOK, optimizer: { [`exp_avg.${W}`]: tf.zeros([2, 3]) }, trainerState: { step },
    });
  } finally {
    tf.dispose(Object.values(params));
  }
}

describe('averageCheckpoints', () => {
  it('writes the mean of the model weights (hand-computed), the sources, and latest; no optimizer or trainer state', async () => {
    const run = path.join(root, 'run');
    const a = await save(run, 1, [0, 1, 2, 3, 4, 5], [1, 1]);
    const b = await save(run, 2, [3, 1, -2, 0, 4, 8], [0.5, 2]);
    const c = await save(run, 3, [6, 4, 3, 3, 1, 2], [1.5, 0]);
    const before = tf.memory().numTensors;
    const out = await averageCheckpoints([a, b, c], path.join(run, 'average'), 'last3');
    expect(tf.memory().numTensors).toBe(before);
    expect(out).toBe(path.join(run, 'average', 'last3'));
    expect(readLatest(path.join(run, 'average'))).toBe('last3');
    expect(readLatest(run)).toBe('step-000003'); // the run's own pointer is untouched
    const avg = loadCheckpoint(out);
    // (0+3+6)/3 = 3, (1+1+4)/3 = 2, (2-2+3)/3 = 1, (3+0+3)/3 = 2, (4+4+1)/3 = 3, (5+8+2)/3 = 5; norm (1+0.5+1.5)/3 = 1, (1+2+0)/3 = 1
    expect(Array.from(avg.params[W].dataSync())).toEqual([3, 2, 1, 2, 3, 5]);
    expect(Array.from(avg.params[N].dataSync())).toEqual([1, 1]);
    expect(avg.config).toEqual({ d_model: 2, averaged_from: ['../step-000001', '../step-000002', '../step-000003'] });
    expect(avg.tokenizerJson).toBe(TOK);
    expect(avg.optimizer).toBeUndefined();
    expect(avg.trainerState).toBeUndefined();
    tf.dispose(Object.values(avg.params));
    // Averaging again replaces it (a stale average is never mixed with a new one).
    await averageCheckpoints([b, c], path.join(run, 'average'), 'last3');
    const again = loadCheckpoint(out);
    expect(Array.from(again.params[N].dataSync())).toEqual([1, 1]);
    expect(Array.from(again.params[W].dataSync())).toEqual([4.5, 2.5, 0.5, 1.5, 2.5, 5]);
    tf.dispose(Object.values(again.params));
  });

  it('refuses checkpoints of different models, naming the file or tensor, and leaves nothing behind', async () => {
    const run = path.join(root, 'bad');
    const a = await save(run, 1, [0, 1, 2, 3, 4, 5], [1, 1]);
    const other = await save(path.join(root, 'other'), 1, [0, 1, 2, 3, 4, 5], [1, 1], { d_model: 3 });
    const before = tf.memory().numTensors;
    await expect(averageCheckpoints([a, other], path.join(run, 'average'), 'x')).rejects.toThrow(/other\/step-000001\/config\.json differs from .*bad\/step-000001's/);
    const raw = async (name: string, params: Record<string, tf.Tensor>) => {
      const dir = await saveCheckpoint(path.join(root, name), 'step-000001', { config: { d_model: 2 }, params, tokenizerJson: TOK });
      tf.dispose(Object.values(params));
      return dir;
    };
    const shape = await raw('shape', { [W]: tf.zeros([3, 2]), [N]: tf.zeros([2]) });
    await expect(averageCheckpoints([a, shape], path.join(run, 'average'), 'x')).rejects.toThrow(/tensor 'model\.transformer\.blocks\.0\.q_proj\.weight' has shape \[3,2\]/);
    const missing = await raw('missing', { [W]: tf.zeros([2, 3]) });
    await expect(averageCheckpoints([a, missing], path.join(run, 'average'), 'x')).rejects.toThrow(/tensor 'model\.transformer\.blocks\.0\.attn_norm\.weight' is missing/);
    expect(tf.memory().numTensors).toBe(before);
    expect(fs.existsSync(path.join(run, 'average'))).toBe(false);
    await expect(averageCheckpoints([], path.join(run, 'average'), 'x')).rejects.toThrow(/no checkpoint to average/);
  });
});
