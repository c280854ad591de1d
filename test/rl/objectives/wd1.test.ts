import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError } from '../../../src/errors.ts';
import { Rng } from '../../../src/rng.ts';
import { parseConfig } from '../../../src/config/load.ts';
import { grpoSectionSchema } from '../../../src/config/schema.ts';
import { disposeParams, initParams } from '../../../src/model/model.ts';
import { trainGrpo } from '../../../src/rl/grpo_trainer.ts';
import { wd1Loss } from '../../../src/rl/objectives/wd1.ts';
import { collectRollout, disposeRollout, microLosses } from '../../../src/rl/rollout.ts';
import { config, countTarget, expectExactResume, expectFlatOnTwoWorkers, expectGradientMatchesFiniteDifference, modelConfig, objectiveConfig, quiet, rolloutOptions, saveInitCheckpoint, tmp, tok } from '../grpo_helpers.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await saveInitCheckpoint();
});

/** The helpers' tiny run with grpo.objective: wd1 (wd1 reads no beta / epsilon, so the grpo section is rebuilt). */
const wd1Config = (dir: string, over: { max_steps?: number; workers?: number } = {}) => objectiveConfig(dir, { objective: 'wd1' }, over);

describe('wd1 objective', () => {
  it('loss = mean over groups of Σ softmax(−A)·s − Σ softmax(A)·s, s = masked sum of log π (hand computation)', () => {
    // s = [-1-2, -0.5·3, -1, -2·3] = [-3, -1.5, -1, -6]; groups (A = [1, -1]) and (A = [0, 0]).
    // Group 1: w⁺ = softmax([1, -1]) = [0.880797, 0.119203], w⁻ = [0.119203, 0.880797]
    //   pos = 0.880797·-3 + 0.119203·-1.5 = -2.821197,  neg = 0.119203·-3 + 0.880797·-1.5 = -1.678804
    //   l = neg − pos = tanh(1)·1.5 = 1.142391
    // Group 2: equal advantages, w⁺ = w⁻ = [0.5, 0.5]: pos = neg = -3.5, l = 0.
    // loss = (1.142391 + 0) / 2 = 0.571196; pos_logp = (-2.821197 - 3.5) / 2; neg_logp = (-1.678804 - 3.5) / 2.
    const logp = tf.tensor2d([[-1, -2, -3], [-0.5, -0.5, -0.5], [-1, -1, -1], [-2, -2, -2]]);
    const mask = tf.tensor2d([[1, 1, 0], [1, 1, 1], [1, 0, 0], [1, 1, 1]]);
    const A = tf.tensor1d([1, -1, 0, 0]);
    const out = tf.tidy(() => {
      const r = wd1Loss(logp, mask, A, 2);
      return [r.loss, r.posLogp, r.negLogp].map((t) => t.dataSync()[0]);
    });
    expect(out[0]).toBeCloseTo(0.571196, 5);
    expect(out[1]).toBeCloseTo(-3.160599, 5);
    expect(out[2]).toBeCloseTo(-2.589402, 5);
    // d loss / d logp_it = m_it · (w⁻_i − w⁺_i) / groups: row 0 → -tanh(1)/2 = -0.380797 on its two masked tokens.
    const g = tf.tidy(() => tf.grad((x: tf.Tensor) => wd1Loss(x as tf.Tensor2D, mask, A, 2).loss)(logp).arraySync() as number[][]);
    expect(g[0][0]).toBeCloseTo(-0.380797, 5);
    expect(Math.abs(g[0][2])).toBe(0);
    expect(g[1][2]).toBeCloseTo(0.380797, 5);
    expect(g[2].map(Math.abs)).toEqual([0, 0, 0]);
    expect(() => wd1Loss(logp, mask, A, 3)).toThrow('4 rows are not whole groups of grpo.num_generations (3)');
    tf.dispose([logp, mask, A]);
  });

  it('the loss gradient through the model matches a finite-difference estimate', async () => {
    const cfg = modelConfig();
    const params = initParams(cfg);
    const prompts = ['1200=', '0034='];
    const o = rolloutOptions({ G: 3, mu: 2, grad_accum: 1, objective: 'wd1', p_mask_prompt: 0.3, scale_rewards: 'none', sampler: { sampler: 'llada', gen_length: 8, block_length: 8, steps: 8, temperature: 1 } });
    const r = await collectRollout(
      { params, cfg }, null, prompts.map(() => ({})), prompts, tok,
      { async score(_p, c) { const v = c.map((_, i) => i % 3); return { total: v, perFn: { v } }; } },
      { sampling: new Rng(2, 's'), masking: new Rng(2, 'm') }, o,
    );
    const mb = r.micro[0];
    expect(mb.old[1]).toBeNull(); // nothing cached: no ratio, no reference
    expect(mb.ref[1]).toBeNull();
    const name = 'model.transformer.ff_out.weight';
    const loss = () => microLosses(params, cfg, mb, 1, o)[0]().loss;
    expectGradientMatchesFiniteDifference(params[name], loss);
    disposeRollout(r);
    disposeParams(params);
  });

  it('refuses the keys wd1 does not read, in one line naming the key and the objective', () => {
    for (const key of ['beta', 'epsilon', 'loss_type', 'espo']) {
      const raw = { objective: 'wd1', [key]: key === 'loss_type' ? 'grpo' : key === 'espo' ? { num_mc: 1 } : 0.1 };
      let err: unknown;
      try {
        parseConfig({ grpo: raw }, z.strictObject({ grpo: grpoSectionSchema }), 'run.yaml');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      const msg = (err as Error).message;
      expect(msg.split('\n')).toHaveLength(1);
      expect(msg).toMatch(new RegExp(`^run.yaml: grpo.${key}: does not apply to grpo.objective: wd1 \\(only to [a-z0-9, ]+\\); remove it$`));
    }
    expect(grpoSectionSchema.parse({ objective: 'wd1', p_mask_prompt: 0.3 }).p_mask_prompt).toBe(0.3); // read by wd1
  });

  it('trainGrpo: metrics carry pos_logp / neg_logp (no kl), memory stays flat, and no reference is loaded', async () => {
    const dir = tmp();
    const counts: number[] = [];
    disposeParams((await trainGrpo(wd1Config(dir, { max_steps: 4 }), { logger: quiet, rewardSource: countTarget, onStep: (s) => counts.push(s.numTensors) })).params);
    expect(counts[3]).toBe(counts[1]);
    // The tensors kept across steps are the policy and AdamW's moments only: as many as d1 without a reference (β 0).
    const noRef: number[] = [];
    const d1 = config(tmp(), { max_steps: 2 });
    d1.grpo.beta = 0;
    disposeParams((await trainGrpo(d1, { logger: quiet, rewardSource: countTarget, onStep: (s) => noRef.push(s.numTensors) })).params);
    expect(counts[1]).toBe(noRef[1]);
    const lines = fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    for (const l of lines) {
      expect(Number.isFinite(l['objective/pos_logp'])).toBe(true);
      expect(Number.isFinite(l['objective/neg_logp'])).toBe(true);
      expect(l.loss).toBeCloseTo(l['objective/neg_logp'] - l['objective/pos_logp'], 4);
      expect('kl' in l).toBe(false);
    }
  });

  it('resumes exactly: 4 steps straight equal 2 + resume + 2', async () => {
    await expectExactResume((dir) => wd1Config(dir));
  });

  it('trains with training.workers: 2 (memory flat in main and workers)', async () => {
    const last = (await expectFlatOnTwoWorkers(wd1Config(tmp(), { max_steps: 3, workers: 2 }))).pop()!;
    expect(Number.isFinite(last['objective/pos_logp'])).toBe(true);
  });
});
