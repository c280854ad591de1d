/**
 * diffu-GRPO (d1), the loop only. One GRPO step =
 *   rollout: P prompts × G completions sampled with the policy, scored, group advantages, and for each of the μ inner
 *            updates a mask seed with old/ref log-probs cached (rollout.ts)
 *   μ inner updates: recompute the current log-probs with seed k, clipped-ratio + β·KL loss (policy_loss.ts), AdamW.
 * So `training.max_steps` counts rollout batches; the optimizer takes μ steps per GRPO step (TRL counts each of them).
 * The reference model is the frozen starting checkpoint (optionally synced every N steps, TR-DPO style).
 * With training.workers > 1 the rollout's sampling, cached log-probs and the gradients run on worker threads
 * (workers.ts); rewards, advantages and the AdamW step stay here, and the loop is the same.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Logger } from 'pino';
import YAML from 'yaml';
import { setupBackend, type BackendName } from '../backend/backend.ts';
import { setRecompute } from '../model/recompute.ts';
import { ConfigError } from '../errors.ts';
import { Rng, type RngState } from '../rng.ts';
import { loadCheckpoint, saveCheckpoint } from '../checkpoint/checkpoint.ts';
import { resolveCheckpoint } from '../checkpoint/resolve.ts';
import type { GrpoConfig } from '../config/schema.ts';
import { checkGrpoConfig } from '../config/validate.ts';
import type { ModelConfig } from '../model/config.ts';
import { paramsFromTensors } from '../checkpoint/load_model.ts';
import type { Params } from '../model/model.ts';
import { tokenizerFromJSON, type Tokenizer } from '../tokenizer/index.ts';
import { BatchCursor, type CursorState } from '../engine/cursor.ts';
import { AdamW } from '../engine/optimizer.ts';
import { createLogger, openRunLog } from '../engine/run_log.ts';
import { learningRate } from '../engine/schedule.ts';
import { accumulateGrads, applyGrads, yieldToEventLoop } from '../engine/step.ts';
import { loadPromptRows } from './prompts.ts';
import { checkInpaintRows, referenceAnswer } from './inpaint.ts';
import type { BatchSource } from './dynamic_sampling.ts';
import type { TaskName } from '../tokenizer/templates.ts';
import { objectiveFor } from './objectives/index.ts';
import type { RewardSource } from '../rewards/types.ts';
import { collectRollout, disposeRollout, microLosses, type Rollout } from './rollout.ts';
import { type RolloutOptions } from './completions.ts';
import { parallelRollout, RolloutWorkers } from './workers.ts';
import { resolveWorkers, weightArrays, type PooledGrads } from '../engine/parallel.ts';
import { RolloutLog } from './rollout_log.ts';

export interface GrpoOptions {
  resume?: boolean;
  logger?: Logger;
  /** The rewards, loaded from `config.rewards` by the caller (the CLI uses rewardSourceFromConfig). */
  rewardSource: RewardSource;
  /** workerTensors: each data-parallel worker's tf.memory().numTensors after the step (empty with training.workers 1). */
  onStep?: (info: { step: number; metrics: Record<string, number>; numTensors: number; workerTensors: number[] }) => void;
  stopAfter?: number;
  /** The periodic evaluation of `config.eval` (eval/periodic.ts); required when config.eval.task is set. */
  evaluate?: PeriodicEval;
}

/** Evaluates the current policy; returns metrics such as `eval/<task>/accuracy`. */
export type PeriodicEval = (model: { params: Params; cfg: ModelConfig; tokenizer: Tokenizer }) => Promise<Record<string, number>>;

export interface GrpoState {
  step: number;
  sampling_rng: RngState;
  masking_rng: RngState;
  data_cursor: CursorState;
  /** AdamW steps taken (fewer than step·μ when grpo.zero_std_groups: drop skipped an update); absent in older runs. */
  optimizer_steps?: number;
}

export async function trainGrpo(config: GrpoConfig, opts: GrpoOptions): Promise<{ params: Params; modelConfig: ModelConfig; step: number }> {
  const logger = opts.logger ?? createLogger(config.logging.level);
  const backend = await setupBackend(config.runtime.backend, (msg, fields) => logger.info(fields, msg));
  const runDir = config.run.output_dir;
  const g = config.grpo;
  const t = config.training;
  setRecompute(t.recompute); // this thread's backward passes; each worker sets its own from its init message
  if (config.eval.task && !opts.evaluate) throw new Error('trainGrpo: config.eval.task is set but no evaluate function was given (pass eval/periodic.ts periodicEval(config))');
  if (g.prompts_per_step % t.grad_accum !== 0) throw new ConfigError(`grpo.prompts_per_step (${g.prompts_per_step}) must be divisible by training.grad_accum (${t.grad_accum})`);
  const W = resolveWorkers(t.workers, { key: 'training.grad_accum', n: t.grad_accum, share: 'grad_accum / workers micro-batches' }, backend.backend);
  if (g.trajectory_states !== null && g.logp_estimator !== 'trajectory') {
    throw new ConfigError(`grpo.trajectory_states (${g.trajectory_states}) needs grpo.logp_estimator: trajectory (got ${g.logp_estimator})`);
  }

  // ---- policy, reference, optimizer, state ----
  const resumeDir = opts.resume ? resolveCheckpoint(runDir) : null;
  const start = loadCheckpoint(resumeDir ?? resolveCheckpoint(config.init_from));
  const cfg = start.config as unknown as ModelConfig;
  checkGrpoConfig(config, { max_seq_len: cfg.max_seq_len, source: `checkpoint ${start.dir}` }, () => 'config'); // before any worker starts or file is written
  const tokenizer = tokenizerFromJSON(start.tokenizerJson);
  const params = paramsFromTensors(start.params, cfg, true, resumeDir ?? config.init_from);
  const ref: Params | null = g.beta > 0 && objectiveFor(g, config.sampler).cachesRef(g.beta) ? loadReference(config, start, resumeDir, cfg) : null; // wd1: none
  const opt = new AdamW(params, config.optimizer);
  const state: GrpoState = {
    step: 0,
    sampling_rng: new Rng(config.run.seed, 'sampling').getState(),
    masking_rng: new Rng(config.run.seed, 'grpo-masking').getState(),
    data_cursor: { epoch: 0, pos: 0 },
  };
  if (resumeDir) {
    if (!start.optimizer || !start.trainerState) throw new ConfigError(`--resume: ${resumeDir} has no optimizer or trainer state`);
    const moments = Object.fromEntries(Object.entries(start.optimizer).filter(([k]) => !k.startsWith('ref.')));
    Object.assign(state, start.trainerState as unknown as GrpoState);
    opt.loadState(moments, state.optimizer_steps ?? state.step * g.num_iterations);
    logger.info({ checkpoint: resumeDir, step: state.step }, 'resuming');
  }
  tf.dispose([...Object.values(start.params), ...Object.values(start.optimizer ?? {})]);

  const rewards = opts.rewardSource;
  const rows = loadPromptRows(config);
  const cursor = new BatchCursor(rows.length, config.run.seed + 1, state.data_cursor);
  if (g.inpaint) checkInpaintRows(config.data.task as TaskName, rows);
  // Fresh prompts for grpo.zero_std_groups: refill (the same cursor) and reference answers for grpo.inpaint.
  const source: BatchSource = { next: (n) => cursor.next(n).map((i) => rows[i]), reference: (row) => referenceAnswer(config.data.task as TaskName, row) };
  const samplingRng = new Rng(0);
  samplingRng.setState(state.sampling_rng);
  const maskingRng = new Rng(0);
  maskingRng.setState(state.masking_rng);
  fs.mkdirSync(runDir, { recursive: true });
  fs.writeFileSync(path.join(runDir, 'config.yaml'), YAML.stringify(config));
  const rolloutLog = new RolloutLog(path.join(runDir, 'rollouts.arrow'));

  const s = config.sampler;
  const steps = s.steps ?? s.gen_length / 2;
  const lastStep = Math.min(t.max_steps, opts.stopAfter ?? t.max_steps);
  const log = openRunLog(runDir, lastStep, { logger, progress: config.logging.progress, startStep: state.step });
  logger.info({ prompts: rows.length, P: g.prompts_per_step, G: g.num_generations, mu: g.num_iterations, gen_length: s.gen_length }, 'diffu-GRPO ready');

  // The one options object of the rollout and the loss: the grpo section as parsed, the sampler, the micro-batches.
  const rolloutOpts: RolloutOptions = {
    grpo: g,
    sampler: { sampler: s.name, gen_length: s.gen_length, block_length: s.block_length, steps, temperature: s.temperature, cfg_scale: s.cfg_scale, remasking: s.remasking, threshold: s.threshold,
      ...(s.gamma !== null ? { gamma: s.gamma } : {}), ...(s.prophet_gaps !== null ? { prophet_gaps: s.prophet_gaps } : {}), cache: s.cache, eos_fill: s.eos_fill },
    grad_accum: t.grad_accum,
  };
  const pool = W > 1
    ? await RolloutWorkers.start(W, {
        backend: backend.backend as BackendName, cfg, policy: weightArrays(params), ref: ref ? weightArrays(ref) : null,
        rollout: rolloutOpts, numMicro: t.grad_accum / W, recompute: t.recompute,
      })
    : null;
  if (pool) logger.info({ workers: W, backend: backend.backend }, 'data-parallel workers ready');

  try {
    while (state.step < lastStep) {
      await yieldToEventLoop();
      // ---- rollout ----
      const batchRows = cursor.next(g.prompts_per_step).map((i) => rows[i]);
      const rngs = { sampling: samplingRng, masking: maskingRng };
      const rollout = pool
        ? await parallelRollout(pool, { params, cfg }, batchRows.map((r) => r.row), batchRows.map((r) => r.prompt), tokenizer, rewards, rngs, rolloutOpts, source)
        : await collectRollout({ params, cfg }, ref ? { params: ref } : null, batchRows.map((r) => r.row), batchRows.map((r) => r.prompt), tokenizer, rewards, rngs, rolloutOpts, source);

      // ---- μ inner updates, each with its own mask seed ----
      const tu = performance.now();
      const updates = [];
      let workerTensors: number[] = [];
      // Micro-batches that carry a loss: grad_accum, fewer when zero_std_groups: drop left groups out. With none (every
      // group flat and dropped) there is nothing to learn: no AdamW step (a zero gradient would still move the weights
      // through the moments and the weight decay), loss and grad_norm logged as 0, groups/skipped_update 1.
      const numMicro = rollout.numMicro;
      if (numMicro === 0) logger.warn({ step: state.step + 1 }, 'grpo.zero_std_groups: drop left every group out: update skipped');
      for (let k = 0; k < g.num_iterations; k++) {
        const lr = learningRate(state.step * g.num_iterations + k, { lr: config.optimizer.lr, warmup_steps: config.schedule.warmup_steps, max_steps: t.max_steps * g.num_iterations, schedule: config.schedule.type, min_lr_ratio: config.schedule.min_lr_ratio });
        // The gradient sum over all grad_accum micro-batches (in this thread, or each worker's share added up), then
        // its mean, clipped, into AdamW.
        if (numMicro === 0) {
          updates.push({ lr, loss: 0, gradNorm: 0, report: {} });
          continue;
        }
        const acc: PooledGrads = pool
          ? await pool.grads(params, k)
          : { ...accumulateGrads(params, rollout.micro.flatMap((mb) => microLosses(params, cfg, mb, k, rolloutOpts))), numTensors: [] };
        const gradNorm = applyGrads(params, opt, acc.sum, numMicro, lr, config.optimizer.max_grad_norm);
        tf.dispose(Object.values(acc.sum));
        const report = Object.fromEntries(Object.entries(acc.reportSum).map(([key, v]) => [key, v / numMicro]));
        updates.push({ lr, loss: acc.lossSum / numMicro, gradNorm, report });
        workerTensors = acc.numTensors;
      }
      const updateSeconds = (performance.now() - tu) / 1000;
      state.step++;
      if (ref && g.ref_model_sync_steps > 0 && state.step % g.ref_model_sync_steps === 0) {
        syncReference(ref, params, g.ref_model_mixup_alpha);
        await pool?.setRef(ref);
      }

      // ---- metrics, rollouts, checkpoint ----
      const metrics = { ...stepMetrics(rollout, updates, updateSeconds), ...rollout.dynamic };
      if (g.zero_std_groups === 'drop') metrics['groups/skipped_update'] = numMicro === 0 ? 1 : 0;
      for (const [name, n] of Object.entries(rewards.errors ?? {})) metrics[`rewards/${name}/errors`] = n;
      rolloutLog.add(state.step, rollout, g.log_rollouts);
      disposeRollout(rollout);
      const bar: Record<string, number> = { reward: metrics.reward, len: metrics['completions/mean_length'] };
      if ('kl' in metrics) Object.assign(bar, { kl: metrics.kl, clip: metrics['clip_ratio/low_mean'] + metrics['clip_ratio/high_mean'] });
      log.progress(state.step, bar);
      opts.onStep?.({ step: state.step, metrics, numTensors: tf.memory().numTensors, workerTensors });
      if (state.step % t.log_every === 0 || state.step === lastStep) log.metrics({ step: state.step, ...metrics });
      if (config.eval.task && t.eval_every > 0 && (state.step % t.eval_every === 0 || state.step === lastStep)) {
        log.metrics({ step: state.step, ...(await opts.evaluate!({ params, cfg, tokenizer })) });
      }
      if ((t.save_every > 0 && state.step % t.save_every === 0) || state.step === lastStep) {
        state.sampling_rng = samplingRng.getState();
        state.masking_rng = maskingRng.getState();
        state.data_cursor = cursor.getState();
        state.optimizer_steps = opt.stepCount;
        const optimizer: Record<string, tf.Tensor> = { ...opt.stateTensors() };
        // A synced reference is part of the run's state: keep it with the optimizer state so a resume is exact.
        if (ref && g.ref_model_sync_steps > 0) for (const [k, v] of Object.entries(ref)) optimizer[`ref.${k}`] = v;
        const dir = await saveCheckpoint(runDir, `step-${String(state.step).padStart(6, '0')}`, { config: cfg as unknown as object, params, tokenizerJson: start.tokenizerJson, optimizer, trainerState: { ...state } }, { keepLast: t.keep_last });
        rolloutLog.flush();
        logger.info({ checkpoint: dir }, 'checkpoint saved');
      }
    }
  } finally {
    await pool?.close();
  }
  log.close();
  if (ref) tf.dispose(Object.values(ref));
  opt.dispose();
  return { params, modelConfig: cfg, step: state.step };
}

const REPORT_NAMES: Record<string, string> = {
  kl: 'kl', clip_low: 'clip_ratio/low_mean', clip_high: 'clip_ratio/high_mean', is_ratio: 'is_ratio/mean', is_clipped: 'is_ratio/clipped_frac',
};

function stepMetrics(r: Rollout, updates: { lr: number; loss: number; gradNorm: number; report: Record<string, number> }[], updateSeconds: number): Record<string, number> {
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
  const std = (xs: number[]) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));
  const m: Record<string, number> = {
    reward: mean(r.rewards),
    reward_std: r.meanGroupStd,
    frac_reward_zero_std: r.fracZeroStd,
  };
  for (const [name, values] of Object.entries(r.perFn)) {
    const v = values.filter((x): x is number => x !== null);
    m[`rewards/${name}/mean`] = mean(v);
    m[`rewards/${name}/std`] = std(v);
  }
  Object.assign(m, {
    'completions/mean_length': mean(r.completionLengths),
    'completions/min_length': Math.min(...r.completionLengths),
    'completions/max_length': Math.max(...r.completionLengths),
    loss: mean(updates.map((u) => u.loss)),
    grad_norm: mean(updates.map((u) => u.gradNorm)),
    learning_rate: updates[updates.length - 1].lr,
    nfe: r.nfe,
    positions: r.positions,
    'time/generation': r.seconds.generation,
    'time/rewards': r.seconds.rewards,
    'time/logprobs': r.seconds.logprobs,
    'time/update': updateSeconds,
  });
  m['time/step'] = m['time/generation'] + m['time/rewards'] + m['time/logprobs'] + m['time/update'];
  // The objective's own terms (objectives/*.ts report), averaged over the inner updates; d1's under TRL's names.
  for (const key of Object.keys(updates[0].report)) m[REPORT_NAMES[key] ?? `objective/${key}`] = mean(updates.map((u) => u.report[key]));
  return m;
}

/** The frozen reference: init_from's weights, or the synced copy saved with a resumed checkpoint. */
function loadReference(config: GrpoConfig, start: ReturnType<typeof loadCheckpoint>, resumeDir: string | null, cfg: ModelConfig): Params {
  const saved = Object.entries(start.optimizer ?? {}).filter(([k]) => k.startsWith('ref.'));
  if (resumeDir && saved.length > 0) return paramsFromTensors(Object.fromEntries(saved.map(([k, v]) => [k.slice(4), v])), cfg, false, `${resumeDir} (synced reference)`);
  if (!resumeDir) return paramsFromTensors(start.params, cfg, false, config.init_from); // variables share the loaded buffers until assigned
  const init = loadCheckpoint(resolveCheckpoint(config.init_from));
  const ref = paramsFromTensors(init.params, cfg, false, config.init_from);
  tf.dispose(Object.values(init.params));
  return ref;
}

/** TR-DPO sync (`grpo.ref_model_sync_steps`, `ref_model_mixup_alpha` α): ref ← α·policy + (1 − α)·ref. */
export function syncReference(ref: Params, policy: Params, alpha: number): void {
  tf.tidy(() => {
    for (const [k, v] of Object.entries(ref)) v.assign(tf.add(tf.mul(alpha, policy[k]), tf.mul(1 - alpha, v)));
  });
}
