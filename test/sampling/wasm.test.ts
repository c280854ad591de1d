import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/rng.ts';
import { generate } from '../../src/sampling/generate.ts';
import { oneStepLogProbs } from '../../src/rl/objectives/estimators.ts';
import type { GenerateOptions, LogitsFn } from '../../src/sampling/types.ts';
import { IDS, MASK, V, contextLogits, tableLogits, useBackend } from './helpers.ts';

const runs: [string, Partial<GenerateOptions>][] = [
  ['llada greedy', { sampler: 'llada' }],
  ['llada greedy cfg', { sampler: 'llada', cfg_scale: 1 }],
  ['llada sampled', { sampler: 'llada', temperature: 0.8 }],
  ['dus greedy', { sampler: 'dus' }],
  ['threshold greedy', { sampler: 'threshold', threshold: 0.4 }],
  ['threshold factor', { sampler: 'threshold', factor: 1 }],
  ['remdm seeded', { sampler: 'remdm', remdm_strategy: 'conf' }],
];

/** Runs every configuration on the current backend. */
async function runAll(): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const [, o] of runs) {
    const res = await generate(contextLogits(5), {
      ...IDS, prompts: [[1, 2, 3], [4]], num_generations: 2, gen_length: 8, block_length: 4, steps: 8, rng: new Rng(17, 'sampling'), ...o,
    } as GenerateOptions);
    out.push(res);
  }
  return out;
}

/** Gradient of Σ oneStepLogProbs w.r.t. a logits table with a mask-dependent term, on the current backend. */
function oneStepGrad(): { lp: number[][]; grad: number[][] } {
  const L = 6;
  const theta = tf.variable(tf.tensor2d(tableLogits(L, 2).table.flat(), [L, V]));
  const fn: LogitsFn = (ids) =>
    tf.tidy(() => tf.add(tf.expandDims(theta, 0), tf.mul(2, tf.expandDims(tf.cast(tf.equal(ids, MASK), 'float32'), 2))) as tf.Tensor3D);
  const ids = tf.tensor2d([[1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]], [2, L], 'int32');
  const f = () => tf.sum(oneStepLogProbs(fn, ids as tf.Tensor2D, 3, { maskId: MASK, pMaskPrompt: 0.5, maskSeed: 9 })) as tf.Scalar;
  const lpT = oneStepLogProbs(fn, ids as tf.Tensor2D, 3, { maskId: MASK, pMaskPrompt: 0.5, maskSeed: 9 });
  const { grads } = tf.variableGrads(f, [theta]);
  const out = { lp: lpT.arraySync(), grad: grads[theta.name].arraySync() as number[][] };
  tf.dispose([theta, ids, lpT, grads[theta.name]]);
  return out;
}

describe('wasm vs cpu', () => {
  it('samplers give identical output on wasm and cpu for a fixed seed; one-step log-probs and gradients match', async () => {
    await useBackend('cpu');
    const cpu = await runAll();
    const cpuGrad = oneStepGrad();
    await useBackend('wasm');
    const wasm = await runAll();
    const wasmGrad = oneStepGrad();
    runs.forEach(([name], i) => expect(wasm[i], name).toEqual(cpu[i]));
    cpuGrad.lp.flat().forEach((v, i) => expect(wasmGrad.lp.flat()[i]).toBeCloseTo(v, 4));
    const g = cpuGrad.grad.flat();
    expect(g.some((v) => Math.abs(v) > 1e-3)).toBe(true);
    g.forEach((v, i) => expect(wasmGrad.grad.flat()[i]).toBeCloseTo(v, 4));
    await useBackend('cpu');
  });
});
