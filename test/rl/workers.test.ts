import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/rng.ts';
import { disposeParams, initParams } from '../../src/model/model.ts';
import os from 'node:os';
import { trainGrpo } from '../../src/rl/grpo_trainer.ts';
import { disposeMicroBatches, microLosses, prepareMicroBatches } from '../../src/rl/rollout.ts';
import { sampleCompletions } from '../../src/rl/completions.ts';
import { RolloutWorkers } from '../../src/rl/workers.ts';
import { resolveWorkers, weightArrays } from '../../src/engine/parallel.ts';
import { accumulateGrads } from '../../src/engine/step.ts';
import { config, countTarget, modelConfig, quiet, rolloutOptions, saveInitCheckpoint, tmp, tok } from './grpo_helpers.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await saveInitCheckpoint();
});

describe('data-parallel workers (training.workers)', () => {
  // The workers recompute their blocks' activations (training.recompute) and the in-process gradients do not: the
  // trajectory loss's gradients agree either way.
  it('sample, prepare and take gradients exactly as the same shards do in-process, also after a reference sync', async () => {
    const cfg = modelConfig();
    const params = initParams(cfg);
    const ref = initParams({ ...cfg, init_seed: 2 }); // a different reference, so the KL term is not zero
    const rollout = rolloutOptions({
      G: 2, mu: 2, grad_accum: 2, p_mask_prompt: 0.3, logp_estimator: 'trajectory', trajectory_states: 2, scale_rewards: 'none', beta: 0.04,
      epsilon: 0.5, epsilon_high: null, loss_type: 'bnpo',
      sampler: { sampler: 'llada', gen_length: 8, block_length: 4, steps: 4, temperature: 1 },
    });
    const pool = await RolloutWorkers.start(2, { backend: 'cpu', cfg, policy: weightArrays(params), ref: weightArrays(ref), rollout, numMicro: 1, recompute: true });
    try {
      const shards = [['1200=', '0034='], ['4100=', '2222=']].map((ps) => ps.map((p) => tok.encode(p)));
      const samples = await pool.sample(params, shards, [11, 12]);
      const local = await Promise.all(shards.map((ids, w) => sampleCompletions({ params, cfg }, ids, new Rng([11, 12][w], 'sampling'), rollout)));
      expect(samples.map((s) => s.sequences)).toEqual(local.map((s) => s.sequences));
      expect(samples.map((s) => s.steps)).toEqual(local.map((s) => s.steps));
      expect(samples[0].sequences).not.toEqual(samples[1].sequences);

      const adv = [[0.5, -0.5, 1, -1], [0.25, -0.25, 0, 0]];
      await pool.prepare(samples, adv, [null, null], [21, 22]);
      const micro = samples.flatMap((s, w) => prepareMicroBatches({ params, cfg }, { params: ref }, s, adv[w], null, new Rng([21, 22][w], 'masking'), rollout, 1));
      for (let k = 0; k < 2; k++) {
        const got = await pool.grads(params, k);
        const want = accumulateGrads(params, micro.flatMap((mb) => microLosses(params, cfg, mb, k, rollout)));
        expect(got.lossSum).toBeCloseTo(want.lossSum, 5);
        expect(got.reportSum.kl).toBeGreaterThan(0);
        expect(got.reportSum.kl).toBeCloseTo(want.reportSum.kl, 5);
        for (const name of Object.keys(params)) {
          const a = got.sum[name].dataSync();
          const b = want.sum[name].dataSync();
          b.forEach((x, i) => expect(a[i]).toBeCloseTo(x, 5));
        }
        tf.dispose([...Object.values(got.sum), ...Object.values(want.sum)]);
      }
      // Workers keep their tensor count flat across calls.
      const again = [await pool.grads(params, 0), await pool.grads(params, 1)];
      expect(again[1].numTensors).toEqual(again[0].numTensors);
      for (const g of again) tf.dispose(Object.values(g.sum));
      disposeMicroBatches(micro);

      // A synced reference (ref_model_sync_steps) reaches the workers: their cached ref log-probs follow it.
      const ref2 = initParams({ ...cfg, init_seed: 3 });
      await pool.setRef(ref2);
      await pool.prepare(samples, adv, [null, null], [31, 32]);
      const micro2 = samples.flatMap((s, w) => prepareMicroBatches({ params, cfg }, { params: ref2 }, s, adv[w], null, new Rng([31, 32][w], 'masking'), rollout, 1));
      const got2 = await pool.grads(params, 0);
      const want2 = accumulateGrads(params, micro2.flatMap((mb) => microLosses(params, cfg, mb, 0, rollout)));
      expect(got2.reportSum.kl).toBeCloseTo(want2.reportSum.kl, 5);
      // ... and the check tells the references apart: the old one gives a different KL under the same masks.
      const stale = samples.flatMap((s, w) => prepareMicroBatches({ params, cfg }, { params: ref }, s, adv[w], null, new Rng([31, 32][w], 'masking'), rollout, 1));
      const wantStale = accumulateGrads(params, stale.flatMap((mb) => microLosses(params, cfg, mb, 0, rollout)));
      expect(Math.abs(wantStale.reportSum.kl - got2.reportSum.kl)).toBeGreaterThan(1e-3);
      tf.dispose([...Object.values(got2.sum), ...Object.values(want2.sum), ...Object.values(wantStale.sum)]);
      disposeMicroBatches([...micro2, ...stale]);
      disposeParams(ref2);
    } finally {
      await pool.close();
      disposeParams(params);
      disposeParams(ref);
    }
  });

  it('trains with 2 workers: memory flat in main and workers, and resumes exactly (2 + resume + 2 = 4)', async () => {
    const parallel = (dir: string) => {
      const c = config(dir, { max_steps: 4 });
      c.training.workers = 2;
      c.training.grad_accum = 2;
      return c;
    };
    const main: number[] = [];
    const workers: number[][] = [];
    const dirA = tmp();
    const a = await trainGrpo(parallel(dirA), { logger: quiet, rewardSource: countTarget, onStep: (s) => { main.push(s.numTensors); workers.push(s.workerTensors); } });
    expect(main[3]).toBe(main[1]);
    expect(workers[1]).toHaveLength(2);
    expect(workers[3]).toEqual(workers[1]);
    const lines = fs.readFileSync(path.join(dirA, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    expect(lines[0].kl).toBeGreaterThanOrEqual(0);
    expect(lines[0].grad_norm).toBeGreaterThan(0);

    const dir = tmp();
    await trainGrpo(parallel(dir), { logger: quiet, rewardSource: countTarget, stopAfter: 2 });
    const b = await trainGrpo(parallel(dir), { logger: quiet, rewardSource: countTarget, resume: true });
    expect(b.step).toBe(4);
    for (const k of Object.keys(a.params)) expect(Array.from(b.params[k].dataSync())).toEqual(Array.from(a.params[k].dataSync()));
  });

  it('a worker that fails reports its error to the caller (here: a backend it cannot load)', async () => {
    const cfg = modelConfig();
    const params = initParams(cfg);
    const rollout = rolloutOptions({ G: 2, mu: 1, grad_accum: 2, p_mask_prompt: 0, scale_rewards: 'none', beta: 0, logp_estimator: 'one_step', epsilon: 0.5, epsilon_high: null, loss_type: 'bnpo', sampler: { sampler: 'llada', gen_length: 8, block_length: 8, steps: 4, temperature: 1 } });
    await expect(RolloutWorkers.start(2, { backend: 'tensorflow', cfg, policy: weightArrays(params), ref: null, rollout, numMicro: 1, recompute: false })).rejects.toThrow('runtime.backend');
    disposeParams(params);
  });

  it('workers: auto takes the most cores that divide the split on an embedded backend, 1 on tfjs-node', () => {
    const split = (n: number) => ({ key: 'training.grad_accum', n, share: 'grad_accum / workers micro-batches' });
    const cores = os.availableParallelism();
    expect(resolveWorkers('auto', split(4), 'wasm')).toBe(cores >= 4 ? 4 : cores >= 2 ? 2 : 1);
    expect(resolveWorkers('auto', split(4), 'tensorflow')).toBe(1);
    expect(resolveWorkers('auto', split(1), 'wasm')).toBe(1);
    expect(resolveWorkers(2, split(2), 'cpu')).toBe(2);
    expect(() => resolveWorkers(2, split(2), 'tensorflow-gpu')).toThrow('training.workers (2) runs the embedded backend in worker threads, but the backend is tensorflow-gpu');
    expect(() => resolveWorkers(2, split(3), 'wasm')).toThrow('training.grad_accum (3) must be a multiple of training.workers (2): each worker takes grad_accum / workers micro-batches');
  });

  it('refuses a split that does not divide evenly, naming the keys', async () => {
    const c = config(tmp(), { max_steps: 1 });
    c.training.workers = 2;
    await expect(trainGrpo(c, { logger: quiet, rewardSource: countTarget })).rejects.toThrow('training.grad_accum (1) must be a multiple of training.workers (2)');
    const d = config(tmp(), { max_steps: 1 });
    d.training.grad_accum = 3;
    await expect(trainGrpo(d, { logger: quiet, rewardSource: countTarget })).rejects.toThrow('grpo.prompts_per_step (4) must be divisible by training.grad_accum (3)');
  });
});
