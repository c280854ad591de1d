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
import { espoElbo, espoLoss, stratifiedMasks } from '../../../src/rl/objectives/espo.ts';
import { objectiveFor } from '../../../src/rl/objectives/index.ts';
import { collectRollout, disposeRollout, microLosses } from '../../../src/rl/rollout.ts';
import { countTarget, expectExactResume, expectFlatOnTwoWorkers, expectGradientMatchesFiniteDifference, modelConfig, objectiveConfig, quiet, rolloutOptions, saveInitCheckpoint, tmp, tok } from '../grpo_helpers.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await saveInitCheckpoint();
});

/** The helpers' tiny run with grpo.objective: espo (its own ε/β defaults, num_mc 2, μ 2 so the old ELBO is cached). */
const espoConfig = (dir: string, over: { max_steps?: number; workers?: number } = {}) => objectiveConfig(dir, { objective: 'espo' }, over);

describe('ESPO objective', () => {
  it('stratifiedMasks: counts k + i·(Lg+1)/n mod (Lg+1) (half to even), that many random positions, p = x/(Lg+1)', () => {
    const rng = new Rng(1);
    for (let rep = 0; rep < 20; rep++) {
      const { mask, ratio, counts } = stratifiedMasks(4, 7, 2, rng); // strata of width (7+1)/4 = 2
      for (let j = 0; j < 2; j++) {
        const c = counts.slice(j * 4, j * 4 + 4);
        const k = c[0];
        expect(c).toEqual([0, 1, 2, 3].map((i) => (k + 2 * i) % 8));
        for (let i = 0; i < 4; i++) {
          expect(mask.slice((j * 4 + i) * 7, (j * 4 + i + 1) * 7).reduce((a, b) => a + b, 0)).toBe(c[i]);
          expect(ratio[j * 4 + i]).toBeCloseTo(c[i] / 8, 6);
        }
      }
    }
    // n 2, Lg 2: row 1 is k + 1.5 → torch.round: 1.5 → 2, 2.5 → 2, 3.5 → 4 (mod 3 = 1).
    const seen = new Map<number, number>();
    for (let rep = 0; rep < 60; rep++) {
      const { counts } = stratifiedMasks(2, 2, 1, rng);
      seen.set(counts[0], counts[1]);
    }
    expect(Object.fromEntries(seen)).toEqual({ 0: 2, 1: 2, 2: 1 });
  });

  it('espoElbo weighs each view by 1/p and 1/(Lg/(Lg+1) − p) and halves their sum (hand computation)', () => {
    // A model that sees only its input: logits = 2·onehot(input). A masked position (input = mask id 4) puts
    // log π(target) = ℓ = −log(e² + 4) = −2.432654 on every true token (0..3); a visible one would be high instead.
    // Lg = 4: rows mask x = 0, 2, 4 tokens, p = x/5. With reduce_var:
    //   x = 2: ½ [2ℓ/0.4 + 2ℓ/(0.8 − 0.4)] = 5ℓ = −12.163270;  x = 0: ½ [0 + 4ℓ/0.8] = 2.5ℓ;  x = 4: ½ [4ℓ/0.8 + 0] = 2.5ℓ
    // Without: x·ℓ/p = 5ℓ for x > 0, and 0 for x = 0.
    const fn = (ids: tf.Tensor2D) => tf.mul(tf.oneHot(ids, 5), 2) as tf.Tensor3D;
    const ids = tf.tensor2d([[1, 2, 0, 1, 2, 3], [2, 2, 3, 3, 0, 0], [0, 1, 1, 0, 3, 2]], [3, 6], 'int32');
    const mask = tf.tensor3d([[[0, 0, 0, 0], [1, 0, 1, 0], [1, 1, 1, 1]]]);
    const ratio = tf.tensor2d([[0, 0.4, 0.8]]);
    const l = -Math.log(Math.exp(2) + 4);
    const withVar = tf.tidy(() => Array.from(espoElbo(fn, ids, null, mask, ratio, 4, true).dataSync()));
    [2.5 * l, 5 * l, 2.5 * l].forEach((v, i) => expect(withVar[i]).toBeCloseTo(v, 4));
    const without = tf.tidy(() => Array.from(espoElbo(fn, ids, null, mask, ratio, 4, false).dataSync()));
    [0, 5 * l, 5 * l].forEach((v, i) => expect(without[i]).toBeCloseTo(v, 4));
    // Two MC samples average: the same masks twice give the same ELBO.
    const twice = tf.tidy(() => Array.from(espoElbo(fn, ids, null, tf.concat([mask, mask], 0) as tf.Tensor3D, tf.concat([ratio, ratio], 0) as tf.Tensor2D, 4, true).dataSync()));
    twice.forEach((v, i) => expect(v).toBeCloseTo(withVar[i], 5));
    tf.dispose([ids, mask, ratio]);
  });

  it('espoLoss: clipped sequence ratio exp(ΔELBO/Lg) and k2 KL ÷ Lg (hand computation, value and gradient)', () => {
    // Lg 4, ε 0.2, β 0.1. elbo [-4, -8, -2], old [-6, -8, 0], ref [-4, -6, -2], A [1, -1, 0.5]
    //   ρ = exp([2, 0, -2]/4) = [1.648721, 1, 0.606531]; clip → [1.2, 1, 0.8]
    //   min(ρA, clip·A) = [1.2, -1, 0.303265]; pg = -(0.503265)/3 = -0.167755
    //   kl = mean([0, (-2)²/2, 0]) / 4 = (2/3)/4 = 0.166667; loss = -0.167755 + 0.1·0.166667 = -0.151088
    //   seq_ratio = 3.255252/3 = 1.085084; elbo = -14/3; clip_high = 1/3 (row 0), clip_low = 0
    // d loss/d elbo: row 0 clipped, Δref 0 → 0; row 1 -(1/3)(-1)(1)/4 + 0.1·(-2/3)/4 = 0.083333 - 0.016667 = 0.066667;
    //   row 2 (ρ below the clip but A > 0: unclipped) -(1/3)(0.5)(0.606531)/4 = -0.025272.
    const elbo = tf.tensor1d([-4, -8, -2]);
    const rest = { oldElbo: tf.tensor1d([-6, -8, 0]), refElbo: tf.tensor1d([-4, -6, -2]), advantages: tf.tensor1d([1, -1, 0.5]) };
    const o = { epsilon: 0.2, epsilon_high: null, beta: 0.1, Lg: 4 };
    const out = tf.tidy(() => {
      const r = espoLoss({ elbo, ...rest }, o);
      return [r.loss, r.seqRatio, r.elbo, r.kl, r.clipLow, r.clipHigh].map((t) => t.dataSync()[0]);
    });
    [-0.151088, 1.085084, -14 / 3, 0.166667, 0, 1 / 3].forEach((v, i) => expect(out[i]).toBeCloseTo(v, 5));
    const g = tf.tidy(() => Array.from(tf.grad((e: tf.Tensor) => espoLoss({ elbo: e as tf.Tensor1D, ...rest }, o).loss)(elbo).dataSync()));
    [0, 0.066667, -0.025272].forEach((v, i) => expect(g[i]).toBeCloseTo(v, 5));
    expect(() => espoLoss({ elbo, ...rest, refElbo: null }, o)).toThrow('beta > 0 needs refElbo');
    tf.dispose([elbo, ...Object.values(rest)]);
  });

  it('the loss gradient through the model (cached old and reference ELBOs, split by view) matches the whole loss and finite differences', async () => {
    const cfg = modelConfig();
    const params = initParams(cfg);
    const ref = initParams({ ...cfg, init_seed: 2 }); // a different reference, so the KL term is not zero
    const prompts = ['1200=', '0034='];
    const o = rolloutOptions({ G: 3, mu: 2, grad_accum: 1, objective: 'espo', beta: 0.5, epsilon: 0.2, epsilon_high: null, scale_rewards: 'none', sampler: { sampler: 'llada', gen_length: 8, block_length: 8, steps: 8, temperature: 1 } });
    const r = await collectRollout(
      { params, cfg }, { params: ref }, prompts.map(() => ({})), prompts, tok,
      { async score(_p, c) { const v = c.map((_, i) => i % 3); return { total: v, perFn: { v } }; } },
      { sampling: new Rng(2, 's'), masking: new Rng(2, 'm') }, o,
    );
    const mb = r.micro[0];
    expect(mb.old[1]!.elbo.shape).toEqual([6]);
    expect(mb.draws[1].mask).not.toBeNull();
    const name = 'model.transformer.ff_out.weight';
    // Move the parameters away from old so the ratio is not exactly 1.
    tf.tidy(() => params[name].assign(tf.add(params[name], tf.randomNormal(params[name].shape, 0, 0.05, 'float32', 3))));
    // num_mc 2 with reduce_var: 4 views, so 8 parts (4 without gradient, 4 differentiated one view each); summed here.
    const parts = microLosses(params, cfg, mb, 1, o);
    expect(parts).toHaveLength(8);
    const loss = () => parts.map((f) => f().loss).reduce((a, b) => tf.add(a, b)) as tf.Scalar;
    // The parts' sum equals the loss taken whole (the unsplit path: one score of every view, one loss).
    const objective = objectiveFor(o.grpo, o.sampler);
    const whole = () => objective.loss(objective.score({ params, cfg }, mb, mb.draws[1]), mb.old[1], mb.ref[1], mb, mb.draws[1]).loss;
    const [gw, gs] = tf.tidy(() => [whole, loss].map((f) => { const r = tf.variableGrads(f); return [r.value.dataSync()[0], ...Object.values(r.grads).flatMap((t) => Array.from(t.dataSync()))]; }));
    expect(gs[0]).toBeCloseTo(gw[0], 5);
    gs.forEach((v, i) => expect(v).toBeCloseTo(gw[i], 5));
    expectGradientMatchesFiniteDifference(params[name], loss);
    disposeRollout(r);
    disposeParams(params);
    disposeParams(ref);
  });

  it('config: its own ε/β defaults, grpo.espo defaults, and the keys it does not read refused in one line', () => {
    const g = grpoSectionSchema.parse({ objective: 'espo' });
    expect([g.epsilon, g.beta, g.espo]).toEqual([0.2, 0.01, { num_mc: 2, reduce_var: true, leave_one_out: true }]);
    expect(grpoSectionSchema.parse({ objective: 'espo', beta: 0, epsilon: 0.3 })).toMatchObject({ beta: 0, epsilon: 0.3 });
    expect(grpoSectionSchema.parse({}).epsilon).toBe(0.5); // d1's stay d1's
    const cases: [Record<string, unknown>, string][] = [
      [{ objective: 'espo', p_mask_prompt: 0.15 }, 'p_mask_prompt'],
      [{ objective: 'espo', loss_type: 'bnpo' }, 'loss_type'],
      [{ objective: 'espo', logp_estimator: 'coupled' }, 'logp_estimator'],
      [{ objective: 'd1', espo: { num_mc: 1 } }, 'espo'],
    ];
    for (const [raw, key] of cases) {
      let err: unknown;
      try {
        parseConfig({ grpo: raw }, z.strictObject({ grpo: grpoSectionSchema }), 'run.yaml');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(new RegExp(`^run.yaml: grpo.${key}: does not apply to grpo.objective: ${raw.objective} \\(only to [a-z0-9, ]+\\); remove it$`));
    }
    expect(() => parseConfig({ grpo: { objective: 'espo', espo: { num_mc: 0 } } }, z.strictObject({ grpo: grpoSectionSchema }), 'run.yaml')).toThrow('grpo.espo.num_mc');
  });

  it('trainGrpo: metrics carry seq_ratio, elbo, kl and the clip fractions, and memory stays flat', async () => {
    const dir = tmp();
    const counts: number[] = [];
    await trainGrpo(espoConfig(dir), { logger: quiet, rewardSource: countTarget, onStep: (s) => counts.push(s.numTensors) });
    expect(counts[3]).toBe(counts[1]);
    const lines = fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    for (const l of lines) {
      for (const key of ['objective/seq_ratio', 'objective/elbo', 'kl', 'clip_ratio/low_mean', 'clip_ratio/high_mean']) expect(Number.isFinite(l[key])).toBe(true);
      expect(l['objective/elbo']).toBeLessThan(0);
      expect(l.kl).toBeGreaterThanOrEqual(0);
    }
    expect(lines[0]['objective/seq_ratio']).toBeGreaterThan(0.5);
    expect(lines[0]['objective/seq_ratio']).toBeLessThan(2);
  });

  it('resumes exactly: 4 steps straight equal 2 + resume + 2', async () => {
    await expectExactResume((dir) => espoConfig(dir));
  });

  it('trains with training.workers: 2 (memory flat in main and workers)', async () => {
    const last = (await expectFlatOnTwoWorkers(espoConfig(tmp(), { max_steps: 3, workers: 2 }))).pop()!;
    expect(Number.isFinite(last['objective/seq_ratio'])).toBe(true);
  });
});
