import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../../src/rng.ts';
import { parseConfig } from '../../../src/config/load.ts';
import { grpoConfigSchema, resolveSpg, type GrpoConfig } from '../../../src/config/schema.ts';
import { disposeParams, initParams } from '../../../src/model/model.ts';
import { trainGrpo } from '../../../src/rl/grpo_trainer.ts';
import { spgDraw, spgLoss, spgParts, type SpgDraw } from '../../../src/rl/objectives/spg.ts';
import { objectiveFor } from '../../../src/rl/objectives/index.ts';
import { collectRollout, disposeRollout, microLosses } from '../../../src/rl/rollout.ts';
import type { MicroTensors } from '../../../src/rl/objectives/types.ts';
import { config, countTarget, expectExactResume, expectFlatOnTwoWorkers, expectGradientMatchesFiniteDifference, modelConfig, quiet, rolloutOptions, saveInitCheckpoint, tmp, tok } from '../grpo_helpers.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await saveInitCheckpoint();
});

/** The helpers' tiny run with grpo.objective: spg (gen_length 8 = two blocks of 4, so num_t 2 fits). */
function spgConfig(dir: string, over: { max_steps?: number; workers?: number; grad_accum?: number; spg?: Record<string, unknown> } = {}): GrpoConfig {
  const base = config(dir, { max_steps: over.max_steps ?? 4 });
  return parseConfig(
    {
      ...base,
      grpo: { objective: 'spg', num_generations: 4, prompts_per_step: 4, num_iterations: 2, log_rollouts: 2, spg: { block_length: 4, ...over.spg } },
      training: { ...base.training, workers: over.workers ?? 1, grad_accum: over.grad_accum ?? 1 },
    },
    grpoConfigSchema,
  );
}

describe('spgLoss', () => {
  // T = 2 draws of n = 2 completions of Lg = 3 tokens; row i·T + j is draw j of completion i. Completion 0 has 3
  // tokens, completion 1 has 2.
  const inputs = () => ({
    logp: tf.tensor2d([[-1, -2, -9], [-9, -9, -3], [-9, -1, -9], [-2, -4, -9]]),
    scored: tf.tensor2d([[1, 1, 0], [0, 0, 1], [0, 1, 0], [1, 1, 0]]),
    completionMask: tf.tensor2d([[1, 1, 1], [1, 1, 0]]),
    advantages: tf.tensor1d([1, -2]),
  });
  const opts = { num_t: 2, eubo_beta: 2, mix_weight: 0.5 };

  it('matches a hand computation of the ELBO, the EUBO and the mixed loss', () => {
    // ELBO_0 = mean(( -1 - 2)/2, -3/1) = -2.25;  ELBO_1 = mean(-1/1, (-2 - 4)/2) = -2.
    // t: draw 0 = (2/3, 1/2), draw 1 = (1/3, 1).  β = 2, q_ik = mean_j M·p^β / t:
    //   completion 0: q = 0.5·e^-2/(2/3), 0.5·e^-4/(2/3), 0.5·e^-6/(1/3) → EUBO_0 = ½·mean(ln .75 − 2, ln .75 − 4, ln 1.5 − 6) = −2.0283165
    //   completion 1: q = 0.5·e^-4/1, 0.5·(e^-2/0.5 + e^-8/1), token 2 outside  → EUBO_1 = ½·mean(ln .5 − 4, ln(e^-2 + ½e^-8)) = −1.6729771
    // A = (1, −2): ℓ_0 = ELBO_0 = −2.25; ℓ_1 = ½·EUBO_1 + ½·ELBO_1 = −1.8364886.
    // loss = −(1·3·(−2.25) + (−2)·2·(−1.8364886)) / (3 + 2) = −0.1191909.
    const out = tf.tidy(() => {
      const r = spgLoss(inputs(), { ...opts, logp_estimation: 'mix' });
      return { loss: r.loss.dataSync()[0], elbo: Array.from(r.elbo.dataSync()), eubo: Array.from(r.eubo.dataSync()), pos: r.elboPos.dataSync()[0], euboNeg: r.euboNeg.dataSync()[0], neg: r.neg.dataSync()[0] };
    });
    expect(out.elbo[0]).toBeCloseTo(-2.25, 5);
    expect(out.elbo[1]).toBeCloseTo(-2, 5);
    expect(out.eubo[0]).toBeCloseTo(-2.0283165, 5);
    expect(out.eubo[1]).toBeCloseTo(-1.6729771, 5);
    expect(out.loss).toBeCloseTo(-0.1191909, 5);
    expect(out.pos).toBeCloseTo(-2.25, 5);
    expect(out.euboNeg).toBeCloseTo(-1.6729771, 5);
    expect(out.neg).toBeCloseTo(-1.8364886, 5);
  });

  it('logp_estimation eubo / elbo / zero change only the A ≤ 0 term, and nothing leaks', () => {
    const before = tf.memory().numTensors;
    // ℓ_1 = EUBO_1 → −(−6.75 + 4·(−1.6729771))/5 = 0.0116183; ℓ_1 = ELBO_1 → −(−6.75 + 8)/5 = −0.25; ℓ_1 = 0 → 1.35.
    for (const [kind, want] of [['eubo', 0.0116183], ['elbo', -0.25], ['zero', 1.35]] as const) {
      const loss = tf.tidy(() => spgLoss(inputs(), { ...opts, logp_estimation: kind }).loss.dataSync()[0]);
      expect(loss).toBeCloseTo(want, 5);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('spgDraw', () => {
  const bools = (t: tf.Tensor2D) => (t.arraySync() as number[][]).map((row) => row.map(Boolean)); // bool reads back as 0/1
  it('masks part of one block per draw, every later block and the tail after EOS; p_mask_prompt hits only kept context', () => {
    // n = 2 rows of L = 3 + 8: row 0 has one pad, a 2-token prompt and a full completion; row 1 a 3-token prompt and
    // a completion of 5 tokens (up to its EOS): two blocks of 4.
    const Lg = 8;
    const mb: MicroTensors = {
      start: 0, end: 2, numSteps: 0, commitStep: null,
      ids: tf.tensor2d([[0, 1, 2, 3, 3, 3, 3, 3, 3, 3, 3], [1, 2, 3, 4, 4, 4, 4, 4, 5, 5, 5]], [2, 11], 'int32'),
      attentionMask: tf.tensor2d([[0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]]),
      promptMask: tf.tensor2d([[0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]], [2, 11], 'int32'),
      completionMask: tf.tensor2d([[1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0, 0, 0]]),
      advantages: tf.tensor1d([1, -1]),
    };
    const opts = { num_t: 2, block_length: 4, eubo_beta: 1.5, mix_weight: 0.5, logp_estimation: 'mix' as const };
    for (let seed = 0; seed < 20; seed++) {
      const d = spgDraw(mb, new Rng(seed, 'm'), opts, 0);
      const isMask = bools(d.isMask);
      const scored = d.scored.arraySync();
      for (let r = 0; r < 4; r++) {
        const i = Math.floor(r / 2); // row i·T + j
        const len = i === 0 ? 8 : 5;
        const comp = isMask[r].slice(3);
        expect(isMask[r].slice(0, 3).every((m) => !m)).toBe(true); // p = 0: prompt kept
        const block = comp.slice(0, len).findIndex((m) => m);
        const start = block - (block % 4);
        for (let k = 0; k < Lg; k++) {
          if (k < start) expect(comp[k]).toBe(false); // earlier blocks kept
          if (k >= start + 4 || k >= len) expect(comp[k]).toBe(true); // later blocks and after EOS masked
          expect(scored[r][k]).toBe(comp[k] && k < len ? 1 : 0);
        }
        const inBlock = comp.slice(start, Math.min(start + 4, len)).filter((m) => m).length;
        expect(inBlock).toBeGreaterThanOrEqual(1);
      }
      // The same rng state draws the same masks.
      const again = spgDraw(mb, new Rng(seed, 'm'), opts, 0);
      expect(again.isMask.arraySync()).toEqual(d.isMask.arraySync());
      tf.dispose([d.isMask, d.scored, again.isMask, again.scored]);
    }
    // p_mask_prompt 1: the same blocks (same rng), plus every real prompt token and every token of the earlier blocks;
    // padding never.
    const d0 = spgDraw(mb, new Rng(3, 'm'), opts, 0);
    const d = spgDraw(mb, new Rng(3, 'm'), opts, 1) as SpgDraw;
    const m0 = bools(d0.isMask);
    const m1 = bools(d.isMask);
    for (let r = 0; r < 4; r++) {
      const comp = m0[r].slice(3);
      const block = comp.findIndex((m) => m);
      const start = block - (block % 4);
      expect(m1[r][0]).toBe(r >= 2); // completion 0's pad stays
      expect(m1[r].slice(1, 3 + start).every((m) => m)).toBe(true);
      expect(m1[r].slice(3 + start)).toEqual(m0[r].slice(3 + start));
    }
    tf.dispose([d0.isMask, d0.scored]);
    expect(() => spgDraw(mb, new Rng(0), { ...opts, block_length: 3 }, 0)).toThrow('grpo.spg.block_length (3) must divide sampler.gen_length (8)');
    expect(() => spgDraw(mb, new Rng(0), { ...opts, num_t: 3 }, 0)).toThrow('grpo.spg.num_t (3) must be at most');
    tf.dispose([d.isMask, d.scored, mb.ids, mb.attentionMask, mb.promptMask, mb.completionMask, mb.advantages]);
  });
});

describe('SPG objective in the loop', () => {
  /** 2 prompts × G 3 from a fresh tiny model with rewards 0, 1, 2 per group (dispose `r` and `params` after). */
  async function tinySpgRollout() {
    const cfg = modelConfig();
    const params = initParams(cfg);
    const prompts = ['1200=', '0034='];
    const o = rolloutOptions({ G: 3, mu: 2, grad_accum: 1, objective: 'spg', beta: 0, p_mask_prompt: 0.3, spg: { block_length: 4 }, sampler: { sampler: 'llada', gen_length: 8, block_length: 8, steps: 8, temperature: 1 } });
    const r = await collectRollout(
      { params, cfg }, null, prompts.map(() => ({})), prompts, tok,
      { async score(_p, c) { const v = c.map((_, i) => i % 3); return { total: v, perFn: { v } }; } },
      { sampling: new Rng(2, 's'), masking: new Rng(2, 'm') }, o,
    );
    return { cfg, params, o, r };
  }

  it('the parts (completion chunks) add up to the whole loss, reports and gradient', async () => {
    expect(spgParts(6, 2)).toEqual([[0, 3], [3, 6]]);
    expect(spgParts(5, 2)).toEqual([[0, 3], [3, 5]]);
    expect(spgParts(1, 2)).toEqual([[0, 1]]);
    const { cfg, params, o, r } = await tinySpgRollout();
    const mb = r.micro[0];
    const objective = objectiveFor(o.grpo, o.sampler);
    const parts = microLosses(params, cfg, mb, 1, o);
    expect(parts).toHaveLength(2);
    const vars = Object.values(params);
    const run = (f: () => { loss: tf.Scalar; report?: Record<string, tf.Scalar> }) => tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => f().loss, vars);
      const report = tf.tidy(() => Object.fromEntries(Object.entries(f().report ?? {}).map(([k, v]) => [k, v.dataSync()[0]])));
      return { loss: value.dataSync()[0], report, grad: Object.values(grads).flatMap((g) => Array.from(g.dataSync())) };
    });
    const whole = run(() => objective.loss(objective.score({ params, cfg }, mb, mb.draws[1]), null, null, mb, mb.draws[1]));
    const split = parts.map(run);
    expect(split[0].loss + split[1].loss).toBeCloseTo(whole.loss, 5);
    for (const k of ['elbo_pos', 'eubo_neg', 'neg']) expect(split[0].report[k] + split[1].report[k]).toBeCloseTo(whole.report[k], 5);
    whole.grad.forEach((g, i) => expect(split[0].grad[i] + split[1].grad[i]).toBeCloseTo(g, 5));
    disposeRollout(r);
    disposeParams(params);
  });

  it('the SPG loss gradient matches a finite-difference estimate on a tiny model', async () => {
    const { cfg, params, o, r } = await tinySpgRollout();
    const mb = r.micro[0];
    expect(mb.old[1]).toBeNull(); // nothing cached: no ratio, no reference
    const name = 'model.transformer.ff_out.weight';
    const objective = objectiveFor(o.grpo, o.sampler);
    const loss = () => objective.loss(objective.score({ params, cfg }, mb, mb.draws[1]), null, null, mb, mb.draws[1]).loss; // all parts at once
    expectGradientMatchesFiniteDifference(params[name], loss);
    disposeRollout(r);
    disposeParams(params);
  });

  it('trainGrpo with objective spg: its terms in the metrics, no KL, memory flat across steps', async () => {
    const dir = tmp();
    const counts: number[] = [];
    await trainGrpo(spgConfig(dir, { max_steps: 4, grad_accum: 2 }), { logger: quiet, rewardSource: countTarget, onStep: (s) => counts.push(s.numTensors) });
    expect(counts[3]).toBe(counts[1]);
    const lines = fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    expect(lines).toHaveLength(4);
    for (const key of ['objective/elbo_pos', 'objective/eubo_neg', 'objective/neg', 'loss', 'grad_norm']) expect(Number.isFinite(lines[0][key])).toBe(true);
    expect(lines[0]['objective/elbo_pos']).toBeLessThan(0); // a mean of log-probs
    expect(lines.some((l) => l.grad_norm > 0)).toBe(true);
    expect('kl' in lines[0]).toBe(false);
  });

  it('resumes exactly: 4 steps straight equal 2 + resume + 2', async () => {
    await expectExactResume((dir) => spgConfig(dir));
  });

  it('trains with training.workers: 2 (memory flat in main and workers, SPG terms in the metrics)', async () => {
    const lines = await expectFlatOnTwoWorkers(spgConfig(tmp(), { max_steps: 3, workers: 2, grad_accum: 2 }));
    for (const key of ['objective/elbo_pos', 'objective/eubo_neg', 'objective/neg']) expect(Number.isFinite(lines[0][key])).toBe(true);
  });
});

describe('grpo.spg config', () => {
  const raw = (grpo: Record<string, unknown>) => ({ ...config(tmp()), grpo });
  it('spg defaults: SPG scripts (μ 4, β 0, mix, eubo_beta 1.5, w 0.5, num_t 2 and the sampler\'s block)', () => {
    const c = parseConfig(raw({ objective: 'spg' }), grpoConfigSchema);
    expect(c.grpo.num_iterations).toBe(4);
    expect(c.grpo.beta).toBe(0);
    expect(c.grpo.spg).toEqual({ logp_estimation: 'mix', eubo_beta: 1.5, mix_weight: 0.5, num_t: null, block_length: null });
    // resolved against the sampler: its block, and 2 draws (SPG's scripts) or fewer when there are fewer blocks
    expect(resolveSpg(c.grpo.spg, { gen_length: 256, block_length: 32 })).toMatchObject({ num_t: 2, block_length: 32 });
    expect(resolveSpg(c.grpo.spg, { gen_length: 17, block_length: 17 })).toMatchObject({ num_t: 1, block_length: 17 });
    expect(resolveSpg({ ...c.grpo.spg, num_t: 3, block_length: 4 }, { gen_length: 16, block_length: 16 })).toMatchObject({ num_t: 3, block_length: 4 });
  });

  it('refuses, in one line naming key and objective, keys SPG does not read and spg keys under another objective', () => {
    for (const key of ['epsilon', 'beta', 'loss_type', 'logp_estimator', 'ref_model_sync_steps']) {
      const value = key === 'loss_type' ? 'bnpo' : key === 'logp_estimator' ? 'one_step' : 0.5;
      let message = '';
      try {
        parseConfig(raw({ objective: 'spg', [key]: value }), grpoConfigSchema);
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toContain(`grpo.${key}: does not apply to grpo.objective: spg`);
      expect(message.split('\n')).toHaveLength(1);
    }
    expect(() => parseConfig(raw({ objective: 'd1', spg: { num_t: 1 } }), grpoConfigSchema)).toThrow('grpo.spg: does not apply to grpo.objective: d1 (only to spg); remove it');
    expect(() => parseConfig(raw({ objective: 'spg', spg: { nu_t: 1 } }), grpoConfigSchema)).toThrow("unknown key(s) 'nu_t'");
  });
});
