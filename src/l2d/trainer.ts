/**
 * `yarn train:l2d`: trains the flow stream on top of a frozen causal checkpoint (L2D, arXiv 2501.15781), the SFT
 * loop's shape: lr -> micro-batches (the frozen pass outside the gradient tape, then the flow loss and its gradients)
 * -> clip -> AdamW on the flow parameters only -> log -> eval -> checkpoint. The base's variables are created
 * non-trainable and never handed to the optimizer; a test compares them bit for bit after training.
 * Checkpoints (l2d/checkpoint.ts) hold the flow, its AdamW moments and the trainer state, so `--resume` is exact.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Logger } from 'pino';
import YAML from 'yaml';
import { setupBackend } from '../backend/backend.ts';
import { ConfigError } from '../errors.ts';
import { Rng, type RngState } from '../rng.ts';
import { loadCheckpoint, saveCheckpoint } from '../checkpoint/checkpoint.ts';
import { loadModel } from '../checkpoint/load_model.ts';
import { resolveCheckpoint } from '../checkpoint/resolve.ts';
import { trainConfigSchema, type TrainConfig } from '../config/schema.ts';
import { nextTokenBatch } from '../diffusion/next_token.ts';
import { forwardMain, type MainStream, type Params } from '../model/model.ts';
import { makeRope, biasedAttention } from '../model/ops.ts';
import { headDim } from '../model/config.ts';
import { AdamW } from '../engine/optimizer.ts';
import { accumulateGrads, applyGrads, yieldToEventLoop } from '../engine/step.ts';
import { learningRate } from '../engine/schedule.ts';
import { BatchCursor, type CursorState } from '../engine/cursor.ts';
import { createLogger, openRunLog } from '../engine/run_log.ts';
import { gatherRows, type TokenizedSet } from '../train/dataset.ts';
import { prepareData } from '../train/prepare.ts';
import type { L2dConfig } from './config.ts';
import { flowFromTensors, l2dCheckpointConfig } from './checkpoint.ts';
import type { FlowModel, MainView } from './flow.ts';
import { drawFlowNoise, l2dLoss } from './loss.ts';
import { initFlowParams } from './params.ts';

export interface L2dTrainOptions {
  resume?: boolean;
  logger?: Logger;
  /** Called after every optimizer step (tests watch memory and the base weights). */
  onStep?: (info: { step: number; loss: number; numTensors: number }) => void;
  stopAfter?: number;
}

interface L2dState {
  step: number;
  flow_rng: RngState;
  data_cursor: CursorState;
}

/** The frozen pass over B rows of L tokens as the flow stream's view (every position a query; causal attention). */
export function trainView(cfg: FlowModel['cfg'], main: MainStream, B: number, L: number): MainView {
  const rope = makeRope(L, headDim(cfg), cfg.rope_theta);
  const scale = 1 / Math.sqrt(headDim(cfg));
  return { B, Lq: L, hidden: main.hidden, rope, attend: (i, q) => biasedAttention(q, main.keys[i], main.values[i], main.bias, scale) };
}

/** The frozen pass of rows ids [B·L], outside any gradient tape; the caller disposes it (disposeMain). */
function frozenPass(m: FlowModel, ids: Int32Array, B: number, L: number): MainStream {
  return tf.tidy(() => {
    const main = forwardMain(m.base, m.cfg, tf.tensor2d(ids, [B, L], 'int32'), null);
    return { ...main, bias: main.bias ?? undefined };
  }) as unknown as MainStream;
}

function disposeMain(main: MainStream): void {
  tf.dispose([main.hidden, ...main.keys, ...main.values, ...(main.bias ? [main.bias] : [])]);
}

/** Mean L2D loss over the held-out rows with t and ε from a fixed seed (comparable across steps). */
export function l2dEvalLoss(m: FlowModel, set: TokenizedSet, B: number, seed: number): number {
  const rng = new Rng(seed, 'l2d-eval-noise');
  let total = 0;
  let batches = 0;
  for (let start = 0; start + B <= set.n; start += B) {
    const batch = gatherRows(set, Array.from({ length: B }, (_, i) => start + i));
    const main = frozenPass(m, batch.ids, B, set.L);
    total += tf.tidy(() => l2dLoss(m, trainView(m.cfg, main, B, set.L), nextTokenBatch(batch.ids, batch.promptLengths, B, set.L), drawFlowNoise(rng, B, set.L, m.f)).dataSync()[0]);
    disposeMain(main);
    batches++;
  }
  if (batches === 0) throw new ConfigError(`data.num_eval (${set.n} usable rows) must be at least training.batch_size (${B})`);
  return total / batches;
}

/** The data section as the SFT data loader reads it (prompt + answer + EOS padding rows). */
function dataConfig(config: L2dConfig): TrainConfig {
  return trainConfigSchema.parse({
    run: config.run, runtime: config.runtime, data: config.data, optimizer: config.optimizer,
    model: { d_model: 1, n_layers: 1, n_heads: 1, mlp_hidden: 1, max_seq_len: config.data.seq_len }, training: { max_steps: 1, batch_size: 1 },
  });
}

export async function trainL2d(config: L2dConfig, opts: L2dTrainOptions = {}): Promise<{ flow: Params; model: FlowModel; step: number; evalLoss: number; runDir: string; dispose(): void }> {
  const logger = opts.logger ?? createLogger(config.logging.level);
  await setupBackend(config.runtime.backend, (msg, fields) => logger.info(fields, msg));
  const runDir = config.run.output_dir;
  const t = config.training;
  const baseModel = loadModel(config.base);
  if (!baseModel.cfg.causal) throw new ConfigError(`base: ${baseModel.dir} is not a causal model (train one with model.causal: true)`);
  if (config.data.seq_len > baseModel.cfg.max_seq_len) throw new ConfigError(`data.seq_len (${config.data.seq_len}) exceeds the base's max_seq_len (${baseModel.cfg.max_seq_len})`);
  const { trainSet, evalSet } = prepareData(dataConfig(config), baseModel.tokenizer.toJSON(), logger);

  const resumeDir = opts.resume ? resolveCheckpoint(runDir) : null;
  const ckpt = resumeDir ? loadCheckpoint(resumeDir) : null;
  const flow = ckpt ? flowFromTensors(ckpt.params, config.flow, baseModel.cfg, resumeDir!, true) : initFlowParams(config.flow, baseModel.cfg, baseModel.params, config.run.seed);
  const model: FlowModel = { base: baseModel.params, cfg: baseModel.cfg, flow, f: config.flow };
  const opt = new AdamW(flow, config.optimizer);
  const state: L2dState = { step: 0, flow_rng: new Rng(config.run.seed, 'l2d-noise').getState(), data_cursor: { epoch: 0, pos: 0 } };
  if (ckpt) {
    if (!ckpt.optimizer || !ckpt.trainerState) throw new ConfigError(`--resume: ${resumeDir} has no optimizer or trainer state`);
    opt.loadState(ckpt.optimizer, (ckpt.trainerState as unknown as L2dState).step);
    Object.assign(state, ckpt.trainerState);
    tf.dispose([...Object.values(ckpt.params), ...Object.values(ckpt.optimizer)]);
    logger.info({ checkpoint: resumeDir, step: state.step }, 'resuming');
  }
  fs.mkdirSync(runDir, { recursive: true });
  fs.writeFileSync(path.join(runDir, 'config.yaml'), YAML.stringify(config));
  const rng = new Rng(0);
  rng.setState(state.flow_rng);
  const cursor = new BatchCursor(trainSet.n, config.run.seed, state.data_cursor);
  const nFlow = Object.values(flow).reduce((s, v) => s + v.size, 0);
  logger.info({ base: baseModel.dir, flow_params: nFlow, base_params: Object.values(baseModel.params).reduce((s, v) => s + v.size, 0), train: trainSet.n, seq_len: trainSet.L }, 'L2D: frozen base and flow stream ready');

  const lastStep = Math.min(t.max_steps, opts.stopAfter ?? t.max_steps);
  const log = openRunLog(runDir, lastStep, { logger, progress: config.logging.progress, startStep: state.step });
  let evalLoss = NaN;
  const B = t.batch_size;
  const L = trainSet.L;
  while (state.step < lastStep) {
    await yieldToEventLoop();
    const lr = learningRate(state.step, { lr: config.optimizer.lr, warmup_steps: config.schedule.warmup_steps, max_steps: t.max_steps, schedule: config.schedule.type, min_lr_ratio: config.schedule.min_lr_ratio });
    let sum: Record<string, tf.Tensor> | null = null;
    let lossSum = 0;
    for (let k = 0; k < t.grad_accum; k++) {
      const batch = gatherRows(trainSet, cursor.next(B));
      const noise = drawFlowNoise(rng, B, L, config.flow);
      const main = frozenPass(model, batch.ids, B, L);
      const acc = accumulateGrads(flow, [() => ({ loss: tf.tidy(() => l2dLoss(model, trainView(model.cfg, main, B, L), nextTokenBatch(batch.ids, batch.promptLengths, B, L), noise)) })]);
      disposeMain(main);
      lossSum += acc.lossSum;
      if (sum) {
        const prev: Record<string, tf.Tensor> = sum;
        sum = Object.fromEntries(Object.keys(prev).map((n) => [n, tf.add(prev[n], acc.sum[n])]));
        tf.dispose([...Object.values(prev), ...Object.values(acc.sum)]);
      } else sum = acc.sum;
    }
    const gradNorm = applyGrads(flow, opt, sum!, t.grad_accum, lr, config.optimizer.max_grad_norm);
    tf.dispose(Object.values(sum!));
    const loss = lossSum / t.grad_accum;
    state.step++;
    log.progress(state.step, { loss });
    opts.onStep?.({ step: state.step, loss, numTensors: tf.memory().numTensors });
    if (state.step % t.log_every === 0 || state.step === lastStep) log.metrics({ step: state.step, 'loss/train': loss, grad_norm: gradNorm, lr });
    if ((t.eval_every > 0 && state.step % t.eval_every === 0) || state.step === lastStep) {
      evalLoss = l2dEvalLoss(model, evalSet, B, config.run.seed);
      log.metrics({ step: state.step, 'loss/eval': evalLoss });
    }
    if ((t.save_every > 0 && state.step % t.save_every === 0) || state.step === lastStep) {
      state.flow_rng = rng.getState();
      state.data_cursor = cursor.getState();
      const name = `step-${String(state.step).padStart(6, '0')}`;
      const dir = await saveCheckpoint(runDir, name, {
        config: l2dCheckpointConfig(baseModel.cfg, baseModel.dir, path.join(runDir, name), config.flow, config.ode),
        params: flow, tokenizerJson: baseModel.tokenizer.toJSON(), optimizer: opt.stateTensors(), trainerState: { ...state },
      }, { keepLast: t.keep_last });
      logger.info({ checkpoint: dir }, 'checkpoint saved');
    }
  }
  log.close();
  return { flow, model, step: state.step, evalLoss, runDir, dispose: () => { opt.dispose(); tf.dispose(Object.values(flow)); baseModel.dispose(); } };
}
