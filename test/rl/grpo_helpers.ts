/** Shared setup of the diffu-GRPO tests: a tiny model saved as the init checkpoint, toy rewards, a tiny config. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { pino } from 'pino';
import { expect } from 'vitest';
import { saveCheckpoint } from '../../src/checkpoint/checkpoint.ts';
import { parseConfig } from '../../src/config/load.ts';
import { grpoConfigSchema, grpoSchema, grpoSectionSchema, type GrpoConfig } from '../../src/config/schema.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { initParams, disposeParams } from '../../src/model/model.ts';
import type { Params } from '../../src/model/model.ts';
import { trainGrpo } from '../../src/rl/grpo_trainer.ts';
import { d1LogProbs, type D1Draw, type LogpEstimator } from '../../src/rl/objectives/d1.ts';
import type { RewardSource } from '../../src/rewards/types.ts';
import type { MicroBatch } from '../../src/rl/rollout.ts';
import type { RolloutOptions } from '../../src/rl/completions.ts';
import { buildCharTokenizer } from '../../src/tokenizer/index.ts';

export const quiet = pino({ level: 'silent' });
export const tok = buildCharTokenizer('0123456789<>/=answer');
export const TARGET = '7';

/** Toy reward: the fraction of completion characters that are '7' (a real signal the policy can learn). */
export const countTarget: RewardSource = {
  async score(_prompts, completions) {
    const values = completions.map((c) => [...c].filter((ch) => ch === TARGET).length / 8);
    return { total: values, perFn: { count_target: values } };
  },
};

/** The same reward with process credit: 1/8 at each '7'. */
export const countTargetCredited: RewardSource = {
  async score(_prompts, completions) {
    const credit = completions.map((c) => [...c].flatMap((ch, at) => (ch === TARGET ? [{ at, value: 1 / 8 }] : [])));
    const values = credit.map((cs) => cs.length / 8);
    return { total: values, perFn: { count_target: values }, credit };
  },
};

export function modelConfig(): ModelConfig {
  return { vocab_size: tok.vocabSize, d_model: 16, n_layers: 1, n_heads: 2, mlp_hidden: 32, max_seq_len: 32, rope_theta: 10000, norm_eps: 1e-5, mask_token_id: tok.maskId, eos_token_id: tok.eosId, pad_token_id: tok.padId, init_seed: 1 };
}

let initDir = '';

/** Call from beforeAll: saves the tiny model as the checkpoint every config() starts from. */
export async function saveInitCheckpoint(): Promise<void> {
  initDir = fs.mkdtempSync(path.join(os.tmpdir(), 'grpo-init-'));
  const params = initParams(modelConfig());
  await saveCheckpoint(initDir, 'step-000000', { config: modelConfig() as unknown as object, params, tokenizerJson: tok.toJSON() });
  disposeParams(params);
}

export function config(outputDir: string, over: { max_steps?: number; mu?: number; backend?: 'cpu' | 'wasm'; lr?: number } = {}): GrpoConfig {
  return parseConfig(
    {
      run: { output_dir: outputDir, seed: 5 },
      runtime: { backend: over.backend ?? 'cpu' },
      init_from: initDir,
      data: { task: 'sudoku', num_train: 64 },
      rewards: [{ name: 'count_target' }],
      sampler: { name: 'llada', gen_length: 8, block_length: 8, steps: 4, temperature: 1.0 },
      grpo: { num_generations: 4, prompts_per_step: 4, num_iterations: over.mu ?? 2, beta: 0.04, epsilon: 0.5, log_rollouts: 2 },
      optimizer: { lr: over.lr ?? 1e-2, max_grad_norm: 1.0 },
      training: { max_steps: over.max_steps ?? 4, save_every: 0, log_every: 1 },
      logging: { progress: 'off' },
    },
    grpoConfigSchema,
  );
}

export const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'grpo-'));

/** RolloutOptions from the flat fields the tests name: G, μ, grad_accum, the sampler and any grpo.* key. */
export function rolloutOptions(o: { G: number; mu: number; grad_accum: number; sampler: RolloutOptions['sampler'] } & Record<string, unknown>): RolloutOptions {
  const { G, mu, grad_accum, sampler, ...grpo } = o;
  return { grpo: grpoSchema.parse({ num_generations: G, num_iterations: mu, ...grpo }), sampler, grad_accum };
}

/** d1's per-token log-probs [n, Lg] of micro-batch `mb` under `params` with the draw of inner update k. */
export function logProbs(params: Params, cfg: ModelConfig, mb: MicroBatch, k: number, p_mask_prompt: number, _Lg: number, logp_estimator: LogpEstimator = 'one_step', pass?: number) {
  return d1LogProbs({ params, cfg }, mb, mb.draws[k] as D1Draw, { p_mask_prompt, logp_estimator }, pass);
}

/**
 * Checks d loss / d param against a central finite difference (h = 1e-2) at the entry with the largest analytic
 * gradient: that gradient is not negligible and the two agree within 5%. The parameter is restored afterwards.
 */
export function expectGradientMatchesFiniteDifference(param: tf.Variable, loss: () => tf.Scalar, h = 1e-2): void {
  const grad = tf.tidy(() => tf.variableGrads(loss, [param]).grads[param.name].dataSync());
  const idx = Array.from(grad).reduce((best, g, i, a) => (Math.abs(g) > Math.abs(a[best]) ? i : best), 0);
  const values = param.dataSync().slice();
  const lossWith = (v: number) => {
    const x = values.slice();
    x[idx] = v;
    tf.tidy(() => param.assign(tf.tensor(x, param.shape)));
    return tf.tidy(() => loss().dataSync()[0]);
  };
  const fd = (lossWith(values[idx] + h) - lossWith(values[idx] - h)) / (2 * h);
  tf.tidy(() => param.assign(tf.tensor(values, param.shape)));
  expect(Math.abs(grad[idx])).toBeGreaterThan(1e-3);
  expect(Math.abs(fd - grad[idx]) / Math.abs(grad[idx])).toBeLessThan(0.05);
}

/** `make(dir)`'s run, 4 trainGrpo steps straight, equals 2 steps + resume + 2 steps, bit for bit. */
export async function expectExactResume(make: (dir: string) => GrpoConfig, rewardSource: RewardSource = countTarget): Promise<void> {
  const a = await trainGrpo(make(tmp()), { logger: quiet, rewardSource });
  const dir = tmp();
  await trainGrpo(make(dir), { logger: quiet, rewardSource, stopAfter: 2 });
  const b = await trainGrpo(make(dir), { logger: quiet, rewardSource, resume: true });
  expect(b.step).toBe(4);
  for (const k of Object.keys(a.params)) expect(Array.from(b.params[k].dataSync())).toEqual(Array.from(a.params[k].dataSync()));
}

/** config()'s tiny run with the grpo section rebuilt from `grpo` (G 4, P 4, μ 2 unless given), e.g. another objective. */
export function objectiveConfig(dir: string, grpo: Record<string, unknown>, over: { max_steps?: number; workers?: number } = {}): GrpoConfig {
  const c = config(dir, { max_steps: over.max_steps ?? 4 });
  c.grpo = grpoSectionSchema.parse({ num_generations: 4, prompts_per_step: 4, num_iterations: 2, log_rollouts: 2, ...grpo });
  if (over.workers) Object.assign(c.training, { workers: over.workers, grad_accum: over.workers });
  return c;
}

/** Trains `cfg` (3 steps, training.workers 2): tensor counts stay flat in the main thread and both workers. Returns the metrics lines. */
export async function expectFlatOnTwoWorkers(cfg: GrpoConfig): Promise<Record<string, number>[]> {
  const main: number[] = [];
  const workers: number[][] = [];
  await trainGrpo(cfg, { logger: quiet, rewardSource: countTarget, onStep: (s) => { main.push(s.numTensors); workers.push(s.workerTensors); } });
  expect(main[2]).toBe(main[1]);
  expect(workers[1]).toHaveLength(2);
  expect(workers[2]).toEqual(workers[1]);
  return fs.readFileSync(path.join(cfg.run.output_dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
}
