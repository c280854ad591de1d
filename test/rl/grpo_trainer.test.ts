import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/rng.ts';
import { initParams, disposeParams } from '../../src/model/model.ts';
import { syncReference, trainGrpo } from '../../src/rl/grpo_trainer.ts';
import { policyLoss } from '../../src/rl/objectives/d1_loss.ts';
import { groupTokenAdvantages, positionAdvantages, processAdvantages } from '../../src/rl/advantages.ts';
import type { RewardSource } from '../../src/rewards/types.ts';
import { collectRollout, disposeRollout } from '../../src/rl/rollout.ts';
import { creditAndJudged, type RolloutOptions } from '../../src/rl/completions.ts';
import { drawCreditedStates, drawStates } from '../../src/rl/objectives/d1.ts';
import { resolveDataDir } from '../../src/data/index.ts';
import { periodicEval } from '../../src/eval/periodic.ts';
import { TARGET, config, countTarget, countTargetCredited, expectGradientMatchesFiniteDifference, logProbs, modelConfig, quiet, rolloutOptions, saveInitCheckpoint, tmp, tok } from './grpo_helpers.ts';
import { yieldProbe } from '../event_loop.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await saveInitCheckpoint();
});

describe('diffu-GRPO trainer', () => {
  it('raises the mean reward of a toy reward within a short real run', async () => {
    const rewards: number[] = [];
    await trainGrpo(config(tmp(), { max_steps: 30, backend: 'wasm', lr: 2e-2 }), { logger: quiet, rewardSource: countTarget, onStep: (s) => rewards.push(s.metrics.reward) });
    const first = rewards.slice(0, 5).reduce((a, b) => a + b, 0) / 5;
    const last = rewards.slice(-5).reduce((a, b) => a + b, 0) / 5;
    expect(last).toBeGreaterThan(first + 0.15);
  });

  it('importance_sampling_level: sequence (GSPO) trains with the trajectory estimator in one part, logs the sequence ratio, memory flat, yields between steps', async () => {
    const dir = tmp();
    const counts: number[] = [];
    const probe = yieldProbe();
    const cfg = config(dir, { max_steps: 4 });
    cfg.grpo.importance_sampling_level = 'sequence';
    cfg.grpo.logp_estimator = 'trajectory';
    await trainGrpo(cfg, { logger: quiet, rewardSource: countTarget, onStep: (s) => { counts.push(s.numTensors); probe.onStep(); } });
    expect(counts[3]).toBe(counts[1]);
    expect(probe.yielded).toEqual([true, true, true]);
    const lines = fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    for (const l of lines) expect(l['objective/seq_ratio']).toBeGreaterThan(0);
    expect(lines.some((l) => l['objective/seq_ratio'] !== 1)).toBe(true); // mu 2: the second inner update's ratio moves
  });

  it('keeps tf.memory().numTensors flat across steps and writes metrics, rollouts and a checkpoint', async () => {
    const dir = tmp();
    const counts: number[] = [];
    const cfg = config(dir, { max_steps: 6 });
    cfg.eval = { task: 'sudoku', subset: 4, seed: 0, batch_size: 4, parser: 'd1' };
    cfg.training.eval_every = 3;
    await trainGrpo(cfg, { logger: quiet, rewardSource: countTarget, evaluate: periodicEval(cfg.eval, cfg.sampler, resolveDataDir(cfg.runtime.data_dir)), onStep: (s) => counts.push(s.numTensors) });
    expect(counts[5]).toBe(counts[1]);
    const lines = fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const evals = lines.filter((l) => 'eval/sudoku/accuracy' in l);
    expect(evals.map((l) => l.step)).toEqual([3, 6]);
    expect(evals[0]['eval/sudoku/accuracy']).toBeGreaterThanOrEqual(0);
    expect(lines).toHaveLength(8);
    for (const key of ['reward', 'kl', 'clip_ratio/low_mean', 'clip_ratio/high_mean', 'completions/mean_length', 'frac_reward_zero_std', 'rewards/count_target/mean', 'grad_norm', 'nfe', 'time/generation', 'time/update']) {
      expect(typeof lines[0][key]).toBe('number');
    }
    expect(lines[0].nfe).toBe(4); // llada, 4 steps
    expect(fs.existsSync(path.join(dir, 'rollouts.arrow'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'latest'))).toBe(true);
  });

  it('keeps memory flat with the trajectory and coupled estimators too', async () => {
    for (const est of ['trajectory', 'coupled'] as const) {
      const counts: number[] = [];
      const cfg = config(tmp(), { max_steps: 4 });
      cfg.grpo.logp_estimator = est;
      cfg.training.grad_accum = 2;
      await trainGrpo(cfg, { logger: quiet, rewardSource: countTarget, onStep: (s) => counts.push(s.numTensors) });
      expect(counts[3]).toBe(counts[1]);
    }
  });

  it('trajectory_states: memory flat, and the key is refused without the trajectory estimator', async () => {
    const counts: number[] = [];
    const cfg = config(tmp(), { max_steps: 4 });
    cfg.grpo.logp_estimator = 'trajectory';
    cfg.grpo.trajectory_states = 1;
    await trainGrpo(cfg, { logger: quiet, rewardSource: countTarget, onStep: (s) => counts.push(s.numTensors) });
    expect(counts[3]).toBe(counts[1]);
    const bad = config(tmp(), { max_steps: 1 });
    bad.grpo.trajectory_states = 2;
    await expect(trainGrpo(bad, { logger: quiet, rewardSource: countTarget })).rejects.toThrow('grpo.trajectory_states (2) needs grpo.logp_estimator: trajectory (got one_step)');
    // the credited draw (per-token credit) keeps memory flat too
    const credited: number[] = [];
    const c2 = config(tmp(), { max_steps: 4 });
    Object.assign(c2.grpo, { logp_estimator: 'trajectory', trajectory_states: 1, trajectory_draw: 'credited', credit: 'token' });
    await trainGrpo(c2, { logger: quiet, rewardSource: countTargetCredited, onStep: (s) => credited.push(s.numTensors) });
    expect(credited[3]).toBe(credited[1]);
    const noStates = config(tmp(), { max_steps: 1 });
    Object.assign(noStates.grpo, { logp_estimator: 'trajectory', trajectory_draw: 'credited' });
    await expect(trainGrpo(noStates, { logger: quiet, rewardSource: countTarget })).rejects.toThrow('grpo.trajectory_draw');
  });

  it('credit: process keeps memory flat too and still learns the toy reward', async () => {
    const counts: number[] = [];
    const rewards: number[] = [];
    const cfg = config(tmp(), { max_steps: 30, backend: 'wasm', lr: 2e-2 });
    cfg.grpo.credit = 'process';
    await trainGrpo(cfg, { logger: quiet, rewardSource: countTargetCredited, onStep: (s) => { counts.push(s.numTensors); rewards.push(s.metrics.reward); } });
    expect(counts[29]).toBe(counts[1]);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(rewards.slice(-5))).toBeGreaterThan(mean(rewards.slice(0, 5)) + 0.15);
  });

  it('resumes exactly: 4 steps straight equal 2 + resume + 2 (cpu)', async () => {
    const a = await trainGrpo(config(tmp(), { max_steps: 4 }), { logger: quiet, rewardSource: countTarget });
    const dir = tmp();
    await trainGrpo(config(dir, { max_steps: 4 }), { logger: quiet, rewardSource: countTarget, stopAfter: 2 });
    const b = await trainGrpo(config(dir, { max_steps: 4 }), { logger: quiet, rewardSource: countTarget, resume: true });
    expect(b.step).toBe(4);
    for (const k of Object.keys(a.params)) expect(Array.from(b.params[k].dataSync())).toEqual(Array.from(a.params[k].dataSync()));
  });

  it('ref_model_sync_steps: ref ← α·policy + (1 − α)·ref (hand values); a synced run differs from an unsynced one and resumes exactly across a sync', async () => {
    const ref = { w: tf.variable(tf.tensor1d([1, 2])) };
    const policy = { w: tf.variable(tf.tensor1d([3, 6])) };
    const before = tf.memory().numTensors;
    syncReference(ref as never, policy as never, 0.6);
    expect(Array.from(ref.w.dataSync()).map((x) => +x.toFixed(5))).toEqual([2.2, 4.4]); // 0.6·3 + 0.4·1, 0.6·6 + 0.4·2
    syncReference(ref as never, policy as never, 0.6);
    expect(Array.from(ref.w.dataSync()).map((x) => +x.toFixed(5))).toEqual([2.68, 5.36]); // 0.6·3 + 0.4·2.2, 0.6·6 + 0.4·4.4
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([ref.w, policy.w]);

    const synced = (dir: string) => {
      const c = config(dir, { max_steps: 4 });
      c.grpo.ref_model_sync_steps = 2; // the KL term of steps 3-4 sees the reference synced after step 2
      return c;
    };
    const counts: number[] = [];
    const a = await trainGrpo(synced(tmp()), { logger: quiet, rewardSource: countTarget, onStep: (s) => counts.push(s.numTensors) });
    expect(counts[3]).toBe(counts[1]);
    const plain = await trainGrpo(config(tmp(), { max_steps: 4 }), { logger: quiet, rewardSource: countTarget });
    expect(Object.keys(a.params).some((k) => a.params[k].dataSync().some((x, i) => x !== plain.params[k].dataSync()[i]))).toBe(true);
    // Stop at step 3 (after the sync of step 2): the resumed run must read the synced reference from the checkpoint.
    const dir = tmp();
    await trainGrpo(synced(dir), { logger: quiet, rewardSource: countTarget, stopAfter: 3 });
    const b = await trainGrpo(synced(dir), { logger: quiet, rewardSource: countTarget, resume: true });
    expect(b.step).toBe(4);
    for (const k of Object.keys(a.params)) expect(Array.from(b.params[k].dataSync())).toEqual(Array.from(a.params[k].dataSync()));
  });
});

/** A rollout of 3 prompts × G 2 from a fresh tiny model (dispose `r` and `params` after). */
async function tinyRollout(seed: number, reward: RewardSource, o: Record<string, unknown> & { mu: number; p_mask_prompt: number; sampler: RolloutOptions['sampler'] }) {
  const cfg = modelConfig();
  const params = initParams(cfg);
  const prompts = ['1200=', '0034=', '4100='];
  const r = await collectRollout(
    { params, cfg }, { params }, prompts.map(() => ({})), prompts, tok, reward,
    { sampling: new Rng(seed, 's'), masking: new Rng(seed, 'm') },
    rolloutOptions({ G: 2, grad_accum: 1, scale_rewards: 'none', beta: 0.04, ...o }),
  );
  return { cfg, params, r };
}

describe('rollout', () => {
  it('the current-policy mask at inner step k is the one the cached old log-probs used', async () => {
    const { cfg, params, r } = await tinyRollout(1, countTarget, { mu: 3, p_mask_prompt: 0.5, sampler: { sampler: 'llada', gen_length: 8, block_length: 8, steps: 8, temperature: 1 } });
    const mb = r.micro[0];
    expect(new Set(mb.draws.map((d) => d.seed)).size).toBe(3);
    for (let k = 0; k < 3; k++) {
      const again = tf.tidy(() => logProbs(params, cfg, mb, k, 0.5, 8).arraySync());
      expect(again).toEqual((mb.old[k]!.logp as tf.Tensor2D).arraySync()); // same params + same mask => identical values
      expect(again).toEqual((mb.ref[k]!.logp as tf.Tensor2D).arraySync());
    }
    // Different seeds really give different masks (so the equality above is not vacuous).
    expect((mb.old[0]!.logp as tf.Tensor2D).arraySync()).not.toEqual((mb.old[1]!.logp as tf.Tensor2D).arraySync());
    disposeRollout(r);
    disposeParams(params);
  });

  it('trajectory estimator: records the step that committed each token, and scores the sampler\'s own states', async () => {
    const { cfg, params, r } = await tinyRollout(3, countTarget, { mu: 2, p_mask_prompt: 0, logp_estimator: 'trajectory', sampler: { sampler: 'llada', gen_length: 8, block_length: 4, steps: 4, temperature: 1 } });
    const mb = r.micro[0];
    expect(mb.numSteps).toBe(4);
    // 2 blocks of 4 tokens, 2 steps per block, 2 tokens per step: steps 1-2 fill the first block, 3-4 the second.
    for (const row of mb.commitStep!.arraySync()) {
      expect([...row.slice(0, 4)].sort()).toEqual([1, 1, 2, 2]);
      expect([...row.slice(4)].sort()).toEqual([3, 3, 4, 4]);
    }
    const again = tf.tidy(() => logProbs(params, cfg, mb, 1, 0, 8, 'trajectory').arraySync());
    expect(again).toEqual((mb.old[1]!.logp as tf.Tensor2D).arraySync());
    // It differs from the one-step (fully masked) estimate: later tokens see the earlier ones.
    const oneStep = tf.tidy(() => logProbs(params, cfg, mb, 1, 0, 8, 'one_step').arraySync());
    expect(oneStep.map((row) => row.slice(0, 2))).not.toEqual(again.map((row) => row.slice(0, 2)));
    disposeRollout(r);
    disposeParams(params);
  });

  it('trajectory_states: K random states per row, shared by ref and current policy, and a loss mask of their tokens', async () => {
    const { cfg, params, r } = await tinyRollout(3, countTarget, { mu: 2, p_mask_prompt: 0, beta: 0.04, logp_estimator: 'trajectory', trajectory_states: 1, sampler: { sampler: 'llada', gen_length: 8, block_length: 4, steps: 4, temperature: 1 } });
    for (const mb of r.micro) {
      const steps = mb.commitStep!.arraySync();
      const cm = mb.completionMask.arraySync();
      for (let k = 0; k < 2; k++) {
        const states = (mb.draws[k].states as tf.Tensor2D).arraySync();
        expect(states.every((row) => row.length === 1 && row[0] >= 1 && row[0] <= 4)).toBe(true);
        // loss mask = completion mask x (commit step == the row's state): 2 tokens per step here
        const lm = (mb.draws[k].lossMask as tf.Tensor2D).arraySync();
        lm.forEach((row, n) => row.forEach((v, l) => expect(v).toBe(steps[n][l] === states[n][0] ? cm[n][l] : 0)));
        // the reference log-probs were taken under the same states: recomputing with the ref's params reproduces them
        const again = tf.tidy(() => logProbs(params, cfg, mb, k, 0, 8, 'trajectory').arraySync());
        expect(again).toEqual((mb.ref[k]!.logp as tf.Tensor2D).arraySync());
        expect(again.flat().filter((v) => v !== 0).length).toBe(steps.flat().filter((v, i) => v === states[Math.floor(i / 8)][0]).length);
      }
    }
    const drawn = r.micro.flatMap((mb) => mb.draws.flatMap((d) => (d.states as tf.Tensor2D).arraySync().flat()));
    expect(new Set(drawn).size).toBeGreaterThan(1); // the states really vary
    disposeRollout(r);
    disposeParams(params);
  });

  it('drawStates: K distinct steps in 1..S, each step equally likely', () => {
    const rng = new Rng(3);
    const counts = new Array(6).fill(0);
    for (let i = 0; i < 6000; i++) {
      const d = drawStates(5, 2, rng);
      expect(new Set(d).size).toBe(2);
      for (const s of d) counts[s]++;
    }
    expect(counts[0]).toBe(0);
    for (let s = 1; s <= 5; s++) expect(Math.abs(counts[s] / 6000 - 2 / 5)).toBeLessThan(0.03);
    expect(drawStates(4, 4, rng).sort()).toEqual([1, 2, 3, 4]);
  });

  it('drawCreditedStates: credited steps first, Horvitz–Thompson weights by hand', () => {
    const rng = new Rng(5);
    // S 4, K 1, P = {2, 3}: π = 1/2 on P, 0 elsewhere; weight (K/S)/π = (1/4)/(1/2) = 0.5.
    for (let i = 0; i < 50; i++) {
      const d = drawCreditedStates(4, 1, [false, true, true, false], rng);
      expect([2, 3]).toContain(d.states[0]);
      expect(d.weight).toEqual([0, 0.5, 0.5, 0]);
    }
    // S 5, K 3, P = {1, 4}: both always drawn (π 1, weight 3/5), one of {2, 3, 5} (π 1/3, weight (3/5)/(1/3) = 1.8).
    for (let i = 0; i < 50; i++) {
      const d = drawCreditedStates(5, 3, [true, false, false, true, false], rng);
      expect(new Set(d.states).size).toBe(3);
      expect(d.states.slice(0, 2).sort()).toEqual([1, 4]);
      expect([2, 3, 5]).toContain(d.states[2]);
      d.weight.forEach((w, s) => expect(w).toBeCloseTo([0.6, 1.8, 1.8, 0.6, 1.8][s], 12));
    }
    // Every step credited (outcome credit, a non-zero advantage): the uniform draw, every weight 1.
    expect(drawCreditedStates(6, 2, new Array(6).fill(true), rng).weight).toEqual(new Array(6).fill(1));
    // No step credited (a flat group): uniform over all steps, weight 1.
    expect(drawCreditedStates(6, 2, new Array(6).fill(false), rng).weight).toEqual(new Array(6).fill(1));
  });

  it('drawCreditedStates: the weighted sum over drawn steps is unbiased for (K/S) x the sum over all steps', () => {
    const rng = new Rng(11);
    const x = [0.3, -1.2, 0.7, 2.0, -0.4, 0.9, 1.1];
    const credited = [false, true, false, true, true, false, true];
    const K = 5; // |P| = 4 < K: every step has π > 0, so the estimate covers every term
    let mean = 0;
    const n = 40000;
    for (let i = 0; i < n; i++) {
      const d = drawCreditedStates(7, K, credited, rng);
      mean += d.states.reduce((a, s) => a + d.weight[s - 1] * x[s - 1], 0) / n;
    }
    expect(mean).toBeCloseTo((K / 7) * x.reduce((a, v) => a + v, 0), 1);
  });

  it('trajectory_draw: credited scores the states that commit a non-zero-advantage token, weighted, shared by ref and current', async () => {
    const { cfg, params, r } = await tinyRollout(3, countTargetCredited, {
      mu: 2, p_mask_prompt: 0, beta: 0.04, logp_estimator: 'trajectory', trajectory_states: 2, trajectory_draw: 'credited', credit: 'token',
      sampler: { sampler: 'llada', gen_length: 8, block_length: 8, steps: 8, temperature: 1 },
    });
    let creditedDrawn = 0;
    for (const mb of r.micro) {
      const steps = mb.commitStep!.arraySync();
      const adv = (mb.advantages as tf.Tensor2D).arraySync();
      const cm = mb.completionMask.arraySync();
      for (let k = 0; k < 2; k++) {
        const states = (mb.draws[k].states as tf.Tensor2D).arraySync();
        const lm = (mb.draws[k].lossMask as tf.Tensor2D).arraySync();
        states.forEach((row, n) => {
          const P = new Set(steps[n].filter((s, l) => cm[n][l] > 0 && adv[n][l] !== 0));
          const fromP = Math.min(2, P.size);
          expect(row.filter((s) => P.has(s)).length).toBe(fromP); // credited steps first
          creditedDrawn += fromP;
          // the loss mask carries the Horvitz–Thompson weight of each drawn step's tokens, 0 elsewhere
          lm[n].forEach((v, l) => {
            const s = steps[n][l];
            const w = !row.includes(s) ? 0 : P.has(s) ? (2 / 8) / (fromP / P.size) : (2 / 8) / ((2 - fromP) / (8 - P.size));
            expect(v).toBeCloseTo(w * cm[n][l], 6);
          });
        });
        const again = tf.tidy(() => logProbs(params, cfg, mb, k, 0, 8, 'trajectory').arraySync());
        expect(again).toEqual((mb.ref[k]!.logp as tf.Tensor2D).arraySync());
      }
    }
    expect(creditedDrawn).toBeGreaterThan(0); // some tokens carried credit, so the rule was exercised
    disposeRollout(r);
    disposeParams(params);
  });

  it('credit: process gives each token the reward-to-go advantage of its commit step', async () => {
    const { params, r } = await tinyRollout(4, countTargetCredited, { mu: 1, p_mask_prompt: 0, credit: 'process', sampler: { sampler: 'llada', gen_length: 8, block_length: 8, steps: 4, temperature: 1 } });
    const mb = r.micro[0];
    expect(mb.advantages.shape).toEqual([6, 8]);
    expect(mb.commitStep).not.toBeNull(); // recorded for the credit even with the one_step estimator
    const steps = mb.commitStep!.arraySync() as number[][];
    // Credit per token by hand (char tokenizer: character k of the completion is token k).
    const credit = r.completions.map((c) => Array.from({ length: 8 }, (_, k) => (c[k] === TARGET ? 1 / 8 : 0)));
    const expected = processAdvantages(r.rewards, credit, steps, 2, 'none');
    const got = mb.advantages.arraySync() as number[][];
    got.forEach((row, i) => row.forEach((a, l) => expect(a).toBeCloseTo(expected[i][l], 6)));
    disposeRollout(r);
    disposeParams(params);
  });

  it('credit: token gives each token its credit minus the group mean at its position', async () => {
    const { params, r } = await tinyRollout(4, countTargetCredited, { mu: 1, p_mask_prompt: 0, credit: 'token', sampler: { sampler: 'llada', gen_length: 8, block_length: 8, steps: 4, temperature: 1 } });
    const mb = r.micro[0];
    expect(mb.advantages.shape).toEqual([6, 8]);
    const credit = r.completions.map((c) => Array.from({ length: 8 }, (_, k) => (c[k] === TARGET ? 1 / 8 : 0)));
    const expected = positionAdvantages(r.rewards, credit, 2, 'none');
    const got = mb.advantages.arraySync() as number[][];
    got.forEach((row, i) => row.forEach((a, l) => expect(a).toBeCloseTo(expected[i][l], 6)));
    expect(got.some((row) => new Set(row.map((a) => a.toFixed(6))).size > 1)).toBe(true); // per token, not per completion
    disposeRollout(r);
    disposeParams(params);
  });

  it('credit_baseline: group gives each judged token its credit minus the group mean per judged token', async () => {
    // Every character is judged: 1/8 when it is the target, 0 otherwise (value-0 entries).
    const judgedReward: RewardSource = {
      async score(_prompts, completions) {
        const credit = completions.map((c) => [...c].map((ch, at) => ({ at, value: ch === TARGET ? 1 / 8 : 0 })));
        const values = credit.map((cs) => cs.reduce((a, x) => a + x.value, 0));
        return { total: values, perFn: { count_target: values }, credit };
      },
    };
    const { params, r } = await tinyRollout(4, judgedReward, { mu: 1, p_mask_prompt: 0, credit: 'token', credit_baseline: 'group', sampler: { sampler: 'llada', gen_length: 8, block_length: 8, steps: 4, temperature: 1 } });
    const credit = r.completions.map((c) => Array.from({ length: 8 }, (_, k) => (c[k] === TARGET ? 1 / 8 : 0)));
    const judged = r.completions.map((c) => Array.from({ length: 8 }, (_, k) => (k < c.length ? 1 : 0)));
    const expected = groupTokenAdvantages(r.rewards, credit, judged, 2, 'none');
    const got = r.micro[0].advantages.arraySync() as number[][];
    got.forEach((row, i) => row.forEach((a, l) => expect(a).toBeCloseTo(expected[i][l], 6)));
    expect(got.flat().some((a, k) => Math.abs(a - positionAdvantages(r.rewards, credit, 2, 'none').flat()[k]) > 1e-6)).toBe(true);
    disposeRollout(r);
    disposeParams(params);
  });

  it('creditAndJudged marks every token a credit entry lands on, value 0 included', () => {
    const pieces = ['ab', 'c', 'de', '<eos>'];
    const multi = { decode: (ids: number[], o?: { skipSpecial?: boolean }) => ids.map((i) => (o?.skipSpecial && i === 3 ? '' : pieces[i])).join('') };
    const { credit, judged } = creditAndJudged([0, 1, 2, 3], 5, [{ at: 0, value: 0 }, { at: 3, value: 0.5 }], multi);
    expect(credit).toEqual([0, 0, 0.5, 0, 0]);
    expect(judged).toEqual([1, 0, 1, 0, 0]);
  });

  it('creditAndJudged puts entries at the text\'s end on the token that ended it (its EOS), counting judgments', () => {
    const pieces = ['ab', 'c', 'de', '<eos>'];
    const multi = { decode: (ids: number[], o?: { skipSpecial?: boolean }) => ids.map((i) => (o?.skipSpecial && i === 3 ? '' : pieces[i])).join('') };
    // text 'abcde' (5 characters): two cells never written, judged at offset 5 -> the EOS, token 3.
    const end = creditAndJudged([0, 1, 2, 3], 6, [{ at: 4, value: 0.25 }, { at: 5, value: 0 }, { at: 5, value: 0 }], multi);
    expect(end.credit).toEqual([0, 0, 0.25, 0, 0, 0]);
    expect(end.judged).toEqual([0, 0, 1, 2, 0, 0]);
    // No EOS (the completion filled all Lg positions): its last token.
    expect(creditAndJudged([0, 1, 2], 3, [{ at: 5, value: 0 }], multi).judged).toEqual([0, 0, 1]);
  });

  it('creditAndJudged puts each credited character on the token that decodes to it', () => {
    const pieces = ['ab', 'c', 'de', '<eos>'];
    const multi = { decode: (ids: number[], o?: { skipSpecial?: boolean }) => ids.map((i) => (o?.skipSpecial && i === 3 ? '' : pieces[i])).join('') };
    // text 'abcde': chars 0-1 -> token 0, 2 -> token 1, 3-4 -> token 2.
    const out = creditAndJudged([0, 1, 2, 3], 6, [{ at: 1, value: 0.5 }, { at: 2, value: 0.25 }, { at: 3, value: 1 }, { at: 4, value: 1 }], multi).credit;
    expect(out).toEqual([0.5, 0.25, 2, 0, 0, 0]);
  });

  it('the GRPO loss gradient matches a finite-difference estimate on a tiny model', async () => {
    const cfg = modelConfig();
    const params = initParams(cfg);
    const prompts = ['1200=', '0034='];
    const r = await collectRollout(
      { params, cfg }, null, prompts.map(() => ({})), prompts, tok,
      { async score(_p, c) { const v = c.map((_, i) => i % 3); return { total: v, perFn: { v } }; } },
      { sampling: new Rng(2, 's'), masking: new Rng(2, 'm') },
      rolloutOptions({ G: 3, mu: 2, grad_accum: 1, p_mask_prompt: 0.3, scale_rewards: 'none', beta: 0, sampler: { sampler: 'llada', gen_length: 8, block_length: 8, steps: 8, temperature: 1 } }),
    );
    const mb = r.micro[0];
    const name = 'model.transformer.ff_out.weight';
    const loss = () => policyLoss({ logp: logProbs(params, cfg, mb, 1, 0.3, 8), oldLogp: (mb.old[1]!.logp as tf.Tensor2D), refLogp: null, advantages: mb.advantages, completionMask: mb.completionMask }, { epsilon: 0.5, beta: 0, loss_type: 'bnpo', max_completion_length: 8 }).loss;
    // Move the parameters away from old so the ratio is not exactly 1 everywhere.
    tf.tidy(() => params[name].assign(tf.add(params[name], tf.randomNormal(params[name].shape, 0, 0.05, 'float32', 3))));
    expectGradientMatchesFiniteDifference(params[name], loss);
    disposeRollout(r);
    disposeParams(params);
  });
});
