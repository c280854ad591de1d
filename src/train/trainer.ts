/**
 * The pretraining / SFT loop, nanoGPT-style as one flat sequence:
 *   lr -> micro-batches (mask, forward, grads, accumulate) -> clip -> AdamW -> log -> eval -> checkpoint.
 * Everything a resume needs (weights, AdamW moments, masking RNG, data cursor, step) goes into each checkpoint, so
 * `--resume` continues exactly where the run stopped.
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
import type { TrainConfig } from '../config/schema.ts';
import { checkTrainConfig } from '../config/validate.ts';
import { pretrainMasking, sftMasking, type NoisedBatch } from '../diffusion/forward_process.ts';
import { weightedCrossEntropy } from '../diffusion/loss.ts';
import { nextTokenBatch, type NextTokenBatch } from '../diffusion/next_token.ts';
import type { ModelConfig } from '../model/config.ts';
import { paramsFromTensors } from '../checkpoint/load_model.ts';
import { forward, initParams, type Params } from '../model/model.ts';
import { AdamW } from '../engine/optimizer.ts';
import { accumulateGrads, applyGrads, yieldToEventLoop, type MicroLoss } from '../engine/step.ts';
import { resolveWorkers, type PooledGrads } from '../engine/parallel.ts';
import { SftWorkers, type SftMicro } from './sft_workers.ts';
import { learningRate } from '../engine/schedule.ts';
import { gatherRows, type Example, type TokenizedSet } from './dataset.ts';
import { BatchCursor, type CursorState } from '../engine/cursor.ts';
import { prepareData } from './prepare.ts';
import { createLogger, openRunLog } from '../engine/run_log.ts';

export interface TrainOptions {
  resume?: boolean;
  logger?: Logger;
  /** Called after every optimizer step (tests use it to watch memory). */
  onStep?: (info: { step: number; loss: number; numTensors: number; workerTensors: number[] }) => void;
  /** Stop after this step even if training.max_steps is larger (the schedule still follows max_steps). */
  stopAfter?: number;
  /** More training examples after the config's (expert iteration's verified completions, train/expert_iteration.ts). */
  extraTrain?: Example[];
}

/** A batch for the loss: the model's input ids, the loss weights and (next-token objective) the targets; else targets = the clean ids. */
type TrainBatch = Pick<NoisedBatch, 'noisyIds' | 'weights'> & { targets?: Int32Array };
const causalBatch = (b: NextTokenBatch): TrainBatch => ({ noisyIds: b.inputIds, targets: b.targets, weights: b.weights });

export interface TrainerState {
  step: number;
  masking_rng: RngState;
  data_cursor: CursorState;
  tokens_seen: number;
}

export interface TrainResult {
  params: Params;
  modelConfig: ModelConfig;
  step: number;
  evalLoss: number | null;
  runDir: string;
}

/**
 * The masked-diffusion loss of a micro-batch's rows (weights carry 1/t or SFT's normalisation; forward_process.ts),
 * as their share of the whole batch's loss (parallel.ts SftMicro).
 */
export function sftMicroLoss(params: Params, cfg: ModelConfig, m: SftMicro, L: number): MicroLoss {
  return () => {
    const n = m.rows;
    const mean = weightedCrossEntropy(forward(params, cfg, tf.tensor2d(m.noisyIds, [n, L], 'int32'), null), tf.tensor2d(m.targets, [n, L], 'int32'), tf.tensor2d(m.weights, [n, L]));
    return { loss: m.share === 1 ? mean : tf.mul(mean, m.share) };
  };
}

export async function train(config: TrainConfig, opts: TrainOptions = {}): Promise<TrainResult> {
  const logger = opts.logger ?? createLogger(config.logging.level);
  const backend = await setupBackend(config.runtime.backend, (msg, fields) => logger.info(fields, msg));
  const runDir = config.run.output_dir;
  const t = config.training;
  setRecompute(t.recompute); // this thread's backward passes; each worker sets its own from its init message
  const W = resolveWorkers(t.workers, { key: 'training.batch_size', n: t.batch_size, share: 'batch_size / workers rows of every micro-batch' }, backend.backend);

  // ---- resume or start: tokenizer, data, model, optimizer, state ----
  const resumeDir = opts.resume ? resolveCheckpoint(runDir) : null;
  const initDir = resumeDir ?? (config.model.init_from ? resolveCheckpoint(config.model.init_from) : null);
  const ckpt = initDir ? loadCheckpoint(initDir) : null;
  const { tokenizer, trainSet, evalSet } = prepareData(config, ckpt?.tokenizerJson ?? null, logger, opts.extraTrain ?? []);
  const modelConfig: ModelConfig = ckpt ? (ckpt.config as unknown as ModelConfig) : newModelConfig(config, tokenizer);
  checkTrainConfig(config, ckpt ? { max_seq_len: modelConfig.max_seq_len, source: `checkpoint ${ckpt.dir}` } : null, () => 'config'); // before any file is written
  if (ckpt) checkVocab(modelConfig, tokenizer.vocabSize, initDir!);
  if (ckpt && !resumeDir && config.model.causal !== (modelConfig.causal === true)) {
    throw new ConfigError(`model.causal (${config.model.causal}) differs from the init_from checkpoint ${initDir} (causal: ${modelConfig.causal === true})`);
  }
  const params: Params = ckpt ? paramsFromTensors(ckpt.params, modelConfig, true, initDir!) : initParams(modelConfig);
  const opt = new AdamW(params, config.optimizer);
  const state: TrainerState = { step: 0, masking_rng: new Rng(config.run.seed, 'masking').getState(), data_cursor: { epoch: 0, pos: 0 }, tokens_seen: 0 };
  if (resumeDir && ckpt) {
    const saved = ckpt.trainerState as unknown as TrainerState;
    if (!ckpt.optimizer || !saved) throw new ConfigError(`--resume: ${resumeDir} has no optimizer or trainer state`);
    opt.loadState(ckpt.optimizer, saved.step);
    Object.assign(state, saved);
    logger.info({ checkpoint: resumeDir, step: state.step }, 'resuming');
  }
  if (ckpt) {
    for (const x of Object.values(ckpt.params)) x.dispose();
    for (const x of Object.values(ckpt.optimizer ?? {})) x.dispose();
  }
  fs.mkdirSync(runDir, { recursive: true });
  fs.writeFileSync(path.join(runDir, 'config.yaml'), YAML.stringify(config));

  const maskRng = new Rng(0);
  maskRng.setState(state.masking_rng);
  const cursor = new BatchCursor(trainSet.n, config.run.seed, state.data_cursor);
  // The causal model (model.causal) trains on next-token CE (diffusion/next_token.ts): no masks, shifted targets.
  const noise = (ids: Int32Array, prompts: Int32Array, B: number, rng: Rng): TrainBatch =>
    modelConfig.causal
      ? causalBatch(nextTokenBatch(ids, config.objective.type === 'pretrain' ? null : prompts, B, trainSet.L, config.objective.normalization))
      : config.objective.type === 'pretrain'
      ? pretrainMasking(ids, B, trainSet.L, rng, { maskId: modelConfig.mask_token_id, eps: config.objective.eps })
      : sftMasking(ids, prompts, B, trainSet.L, rng, { maskId: modelConfig.mask_token_id, eps: config.objective.eps, normalization: config.objective.normalization });

  const nParams = Object.values(params).reduce((s, v) => s + v.size, 0);
  logger.info({ params: nParams, train: trainSet.n, eval: evalSet.n, dropped: trainSet.dropped, seq_len: trainSet.L }, 'model and data ready');
  const lastStep = Math.min(t.max_steps, opts.stopAfter ?? t.max_steps);
  const log = openRunLog(runDir, lastStep, { logger, progress: config.logging.progress, startStep: state.step });
  const save = async () => {
    state.masking_rng = maskRng.getState();
    state.data_cursor = cursor.getState();
    const name = `step-${String(state.step).padStart(6, '0')}`;
    const dir = await saveCheckpoint(runDir, name, { config: modelConfig as unknown as object, params, tokenizerJson: tokenizer.toJSON(), optimizer: opt.stateTensors(), trainerState: { ...state } }, { keepLast: t.keep_last });
    logger.info({ checkpoint: dir }, 'checkpoint saved');
  };

  const pool = W > 1 ? await SftWorkers.start(W, backend.backend as BackendName, modelConfig, params, t.recompute) : null;
  if (pool) logger.info({ workers: W }, `data-parallel: ${W} worker threads, ${t.batch_size / W} rows of each micro-batch each`);
  // ---- the loop ----
  try {
    let evalLoss: number | null = null;
    let tokensWindow = 0;
    let windowStart = performance.now();
    while (state.step < lastStep) {
      await yieldToEventLoop();
      const lr = learningRate(state.step, { lr: config.optimizer.lr, warmup_steps: config.schedule.warmup_steps, max_steps: t.max_steps, schedule: config.schedule.type, min_lr_ratio: config.schedule.min_lr_ratio });
      const B = t.batch_size;
      const L = trainSet.L;
      const micro: SftMicro[] = [];
      for (let k = 0; k < t.grad_accum; k++) {
        const batch = gatherRows(trainSet, cursor.next(B));
        const { noisyIds, targets, weights } = noise(batch.ids, batch.promptLengths, B, maskRng);
        micro.push({ noisyIds, targets: targets ?? batch.ids, weights, rows: B, share: 1 });
      }
      // The gradient sum over the grad_accum micro-batches (here, or the workers' row slices added up), then its mean.
      const acc: PooledGrads = pool ? await pool.grads(params, micro, L) : { ...accumulateGrads(params, micro.map((m) => sftMicroLoss(params, modelConfig, m, L))), numTensors: [] };
      const gradNorm = applyGrads(params, opt, acc.sum, t.grad_accum, lr, config.optimizer.max_grad_norm);
      tf.dispose(Object.values(acc.sum));
      const loss = acc.lossSum / t.grad_accum;
      state.step++;
      state.tokens_seen += t.batch_size * t.grad_accum * trainSet.L;
      tokensWindow += t.batch_size * t.grad_accum * trainSet.L;
      const elapsed = (performance.now() - windowStart) / 1000;
      const tokensPerSec = tokensWindow / elapsed;
      log.progress(state.step, { loss, 'tok/s': tokensPerSec });
      opts.onStep?.({ step: state.step, loss, numTensors: tf.memory().numTensors, workerTensors: acc.numTensors });
      if (state.step % t.log_every === 0 || state.step === lastStep) {
        log.metrics({ step: state.step, 'loss/train': loss, grad_norm: gradNorm, lr, tokens_per_s: tokensPerSec, tokens_seen: state.tokens_seen });
        tokensWindow = 0;
        windowStart = performance.now();
      }
      if ((t.eval_every > 0 && state.step % t.eval_every === 0) || state.step === lastStep) {
        evalLoss = evaluateLoss(params, modelConfig, evalSet, t.batch_size, (ids, p, B, rng) => noise(ids, p, B, rng), config.run.seed);
        log.metrics({ step: state.step, 'loss/eval': evalLoss });
      }
      if ((t.save_every > 0 && state.step % t.save_every === 0) || state.step === lastStep) await save();
      if (tokensWindow === 0) windowStart = performance.now(); // eval and checkpoint time stay out of tokens/s
    }
    log.close();
    return { params, modelConfig, step: state.step, evalLoss, runDir };
  } finally {
    await pool?.close();
  }
}

/** Mean loss over the held-out set with masks from a fixed seed, so evals at different steps are comparable. */
export function evaluateLoss(
  params: Params,
  cfg: ModelConfig,
  set: TokenizedSet,
  B: number,
  noise: (ids: Int32Array, prompts: Int32Array, B: number, rng: Rng) => TrainBatch,
  seed: number,
): number {
  const rng = new Rng(seed, 'eval-masking');
  let total = 0;
  let batches = 0;
  for (let start = 0; start + B <= set.n; start += B) {
    const batch = gatherRows(set, Array.from({ length: B }, (_, i) => start + i));
    const nb = noise(batch.ids, batch.promptLengths, B, rng);
    total += tf.tidy(() => {
      const logits = forward(params, cfg, tf.tensor2d(nb.noisyIds, [B, set.L], 'int32'), null);
      return weightedCrossEntropy(logits, tf.tensor2d(nb.targets ?? batch.ids, [B, set.L], 'int32'), tf.tensor2d(nb.weights, [B, set.L])).dataSync()[0];
    });
    batches++;
  }
  if (batches === 0) throw new ConfigError(`data.num_eval (${set.n} usable rows) must be at least training.batch_size (${B})`);
  return total / batches;
}

function newModelConfig(config: TrainConfig, tok: { vocabSize: number; maskId: number; eosId: number; padId: number }): ModelConfig {
  const m = config.model;
  if (m.d_model % m.n_heads !== 0) throw new ConfigError(`model.d_model (${m.d_model}) must be divisible by model.n_heads (${m.n_heads})`);
  if (config.data.seq_len > m.max_seq_len) throw new ConfigError(`data.seq_len (${config.data.seq_len}) exceeds model.max_seq_len (${m.max_seq_len})`);
  return {
    vocab_size: tok.vocabSize, d_model: m.d_model, n_layers: m.n_layers, n_heads: m.n_heads, mlp_hidden: m.mlp_hidden,
    max_seq_len: m.max_seq_len, rope_theta: m.rope_theta, norm_eps: m.norm_eps,
    mask_token_id: tok.maskId, eos_token_id: tok.eosId, pad_token_id: tok.padId, init_seed: m.init_seed ?? config.run.seed,
    ...(m.causal ? { causal: true } : {}), // bidirectional config.json files stay as they were
  };
}

function checkVocab(cfg: ModelConfig, vocab: number, dir: string): void {
  if (cfg.vocab_size !== vocab) throw new ConfigError(`${dir}: the checkpoint's vocab_size ${cfg.vocab_size} differs from its tokenizer's ${vocab}`);
}
