/**
 * One diffu-GRPO step at the issue's reference shape: 16 prompts × 6 completions × 64 generated tokens, split into
 * generation / rewards / log-probs (old + reference) / updates, through the real trainer (trainGrpo).
 * Model: a fresh vocab-≈30 char model, d_model 128, 4 layers, 4 heads, MLP 512 (bench-train's shape); prompts:
 * generated Countdown puzzles (`a,b,c->t:`); reward: d1's Countdown reward; sampler LLaDA, block 32, 32 steps
 * (2 tokens per step, as d1), T 0.9.
 *
 *   yarn bench:grpo [--steps 3] [--mu 1] [--estimator one_step|coupled|trajectory] [--backend wasm] [--workers 1]
 *                   [--objective d1|wd1|spg|espo]   (keys an objective does not read, e.g. beta under spg, are left out)
 *                   [--recompute]                   (training.recompute: gradient checkpointing per block)
 *                   [--sampler llada|eb|threshold|prophet|dus|remdm] [--cache none|prefix|dual] [--gamma γ]
 *                   [--threshold τ] [--is-cap c]  (the rollout sampler, README "Faster sampling"; grpo.importance_sampling_cap)
 *                   [--sampler-steps n]  (sampler.steps over the 64 tokens, 2 blocks of 32; default 32: 2 tokens per call)
 *                   [--checkpoint DIR]  (a trained Countdown policy instead of the fresh model, e.g. the signed-sum
 *                   trace SFT of configs/countdown-sft.yaml: the fast samplers only save calls on confident logits)
 * `--workers 2` runs data-parallel worker threads (training.workers; grad_accum = workers): one core each.
 * Prints one JSON line per measured step (after 1 warm-up step) and a summary line with the means, generated tokens
 * per second, model calls (nfe) and positions computed per generated token, peak RSS and tf.memory().numTensors at
 * the first and last measured step. Check `uptime` first.
 */
import fs from 'node:fs';
import os, { loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { pino } from 'pino';
import { setupBackend, type BackendName } from '../src/backend/backend.ts';
import { loadCheckpoint, saveCheckpoint } from '../src/checkpoint/checkpoint.ts';
import { parseConfig } from '../src/config/load.ts';
import { OBJECTIVE_KEYS, grpoConfigSchema } from '../src/config/schema.ts';
import type { ModelConfig } from '../src/model/config.ts';
import { disposeParams, initParams } from '../src/model/model.ts';
import { trainGrpo } from '../src/rl/grpo_trainer.ts';
import { rewardSourceFromConfig } from '../src/rewards/registry.ts';
import { buildCharTokenizer } from '../src/tokenizer/index.ts';

const { values: args } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    steps: { type: 'string', default: '3' },
    mu: { type: 'string', default: '1' },
    estimator: { type: 'string', default: 'one_step' },
    workers: { type: 'string', default: '1' },
    objective: { type: 'string', default: 'd1' },
    recompute: { type: 'boolean', default: false },
    sampler: { type: 'string', default: 'llada' },
    cache: { type: 'string', default: 'none' },
    gamma: { type: 'string' },
    threshold: { type: 'string' },
    'is-cap': { type: 'string' },
    checkpoint: { type: 'string' },
    'sampler-steps': { type: 'string', default: '32' },
  },
});
const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
const sampler = { name: args.sampler, cache: args.cache, ...(args.gamma ? { gamma: num(args.gamma) } : {}), ...(args.threshold ? { threshold: num(args.threshold) } : {}) };
const measured = Number(args.steps);
const P = 16;
const G = 6;
const GEN = 64;

async function main(): Promise<void> {
  const loadBefore = loadavg()[0];
  await setupBackend(args.backend as BackendName);
  const tok = buildCharTokenizer('0123456789,->:+*/() <answer></answer>=');
  const cfg: ModelConfig = {
    vocab_size: tok.vocabSize, d_model: 128, n_layers: 4, n_heads: 4, mlp_hidden: 512, max_seq_len: 128,
    rope_theta: 10000, norm_eps: 1e-5, mask_token_id: tok.maskId, eos_token_id: tok.eosId, pad_token_id: tok.padId, init_seed: 1,
  };
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-grpo-'));
  let initDir = path.join(root, 'init');
  let paramCount: number;
  if (args.checkpoint) {
    const ckpt = loadCheckpoint(path.resolve(args.checkpoint));
    initDir = ckpt.dir;
    paramCount = Object.values(ckpt.params).reduce((a, t) => a + t.size, 0);
    tf.dispose([...Object.values(ckpt.params), ...Object.values(ckpt.optimizer ?? {})]);
  } else {
    const params = initParams(cfg);
    paramCount = Object.values(params).reduce((a, t) => a + t.size, 0);
    await saveCheckpoint(initDir, 'step-000000', { config: cfg as unknown as object, params, tokenizerJson: tok.toJSON() });
    disposeParams(params);
  }

  const config = parseConfig(
    {
      run: { output_dir: path.join(root, 'run'), seed: 0 },
      runtime: { backend: args.backend },
      init_from: initDir,
      data: { task: 'countdown', num_train: P * (measured + 1) },
      rewards: [{ name: 'countdown' }],
      sampler: { ...sampler, gen_length: GEN, block_length: 32, steps: Number(args['sampler-steps']), temperature: 0.9 },
      grpo: {
        objective: args.objective, num_generations: G, prompts_per_step: P, num_iterations: Number(args.mu), log_rollouts: 0,
        ...readBy(args.objective, { beta: 0.04, logp_estimator: args.estimator, ...(args['is-cap'] ? { importance_sampling_cap: num(args['is-cap']) } : {}) }),
      },
      optimizer: { lr: 1e-5 },
      training: { max_steps: measured + 1, save_every: 0, log_every: 1, workers: Number(args.workers), grad_accum: Number(args.workers), recompute: args.recompute },
      logging: { level: 'warn', progress: 'off' },
    },
    grpoConfigSchema,
  );
  const rewardSource = await rewardSourceFromConfig(config.rewards, process.cwd());
  const rows: Record<string, number>[] = [];
  const tensors: number[] = [];
  const workerTensors: number[][] = [];
  await trainGrpo(config, {
    logger: pino({ level: 'warn' }),
    rewardSource,
    onStep: ({ step, metrics, numTensors, workerTensors: wt }) => {
      if (step === 1) return; // warm-up: wasm kernel set-up and first-call allocations
      const row = {
        step,
        generation_s: metrics['time/generation'],
        rewards_s: metrics['time/rewards'],
        logprobs_s: metrics['time/logprobs'],
        update_s: metrics['time/update'],
        step_s: metrics['time/step'],
        nfe: metrics.nfe,
        positions: metrics.positions,
        ...('is_ratio/mean' in metrics ? { is_ratio: metrics['is_ratio/mean'], is_clipped: metrics['is_ratio/clipped_frac'] } : {}),
      };
      rows.push(row);
      tensors.push(numTensors);
      workerTensors.push(wt);
      process.stdout.write(JSON.stringify(row) + '\n');
    },
  });
  const mean = (k: string) => rows.reduce((a, r) => a + r[k], 0) / rows.length;
  process.stdout.write(
    JSON.stringify({
      bench: 'grpo', backend: args.backend, shape: `${P} prompts x ${G} completions x ${GEN} tokens`, mu: Number(args.mu), objective: args.objective, estimator: args.estimator, workers: Number(args.workers), recompute: args.recompute,
      sampler: config.sampler.name, sampler_steps: config.sampler.steps, cache: config.sampler.cache, gamma: config.sampler.gamma, threshold: config.sampler.threshold, is_cap: config.grpo.importance_sampling_cap,
      checkpoint: args.checkpoint ?? null, params_M: +(paramCount / 1e6).toFixed(2),
      generation_s: +mean('generation_s').toFixed(2), rewards_s: +mean('rewards_s').toFixed(3), logprobs_s: +mean('logprobs_s').toFixed(2),
      update_s: +mean('update_s').toFixed(2), step_s: +mean('step_s').toFixed(2),
      generated_tokens_per_s: Math.round((P * G * GEN) / mean('generation_s')),
      nfe_per_token: +(mean('nfe') / GEN).toFixed(3), // model calls over the batch per generated token of a row
      positions_per_token: +(mean('positions') / (P * G * GEN)).toFixed(1), // row-positions computed per generated token
      ...('is_ratio' in rows[0] ? { is_ratio: +mean('is_ratio').toFixed(3), is_clipped: +mean('is_clipped').toFixed(3) } : {}),
      peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
      num_tensors_first: tensors[0], num_tensors_last: tensors[tensors.length - 1],
      worker_tensors_first: workerTensors[0], worker_tensors_last: workerTensors[workerTensors.length - 1],
      load_before: +loadBefore.toFixed(2),
    }) + '\n',
  );
  fs.rmSync(root, { recursive: true, force: true });
}

/** The grpo.* keys of `keys` that `objective` reads (OBJECTIVE_KEYS): the rest would be refused. */
function readBy(objective: string, keys: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(keys).filter(([k]) => !OBJECTIVE_KEYS[k] || (OBJECTIVE_KEYS[k] as readonly string[]).includes(objective)));
}

await main();
