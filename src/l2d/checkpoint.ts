/**
 * L2D checkpoints hold only the flow stream; the frozen base stays in its own checkpoint and is loaded with it.
 *   config.json        the base's model config (so every checkpoint reader sees its vocabulary and lengths) plus
 *                      `l2d: { base, flow, ode }`: the base checkpoint's directory relative to this one, the flow's
 *                      options (config.ts flowSchema) and the inference defaults (odeSchema)
 *   model.safetensors  the `flow.*` tensors (params.ts)
 *   tokenizer.json     the base's, verbatim
 * plus the optimizer and trainer state like any checkpoint (checkpoint/checkpoint.ts writes it atomically).
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../errors.ts';
import { loadCheckpoint } from '../checkpoint/checkpoint.ts';
import { loadModel, type LoadedModel } from '../checkpoint/load_model.ts';
import type { ModelConfig } from '../model/config.ts';
import type { Params } from '../model/model.ts';
import { l2dBaseDir, readL2dSection, type FlowOptions, type L2dSection, type OdeOptions } from './config.ts';
import type { FlowModel } from './flow.ts';
import { flowParamShapes } from './params.ts';

export interface LoadedL2d extends FlowModel {
  dir: string;
  baseModel: LoadedModel;
  ode: OdeOptions;
  dispose(): void;
}

/** config.json of an L2D checkpoint: the base's model config plus `l2d`. */
export function l2dCheckpointConfig(baseCfg: ModelConfig, baseDir: string, checkpointDir: string, flow: FlowOptions, ode: OdeOptions): object {
  return { ...baseCfg, l2d: { base: path.relative(checkpointDir, baseDir), flow, ode } satisfies L2dSection };
}

/** Checks that `tensors` hold every flow parameter with its shape; returns them as variables (not trainable unless asked). */
export function flowFromTensors(tensors: Record<string, tf.Tensor>, f: FlowOptions, cfg: ModelConfig, source: string, trainable: boolean): Params {
  const params: Params = {};
  for (const [name, shape] of Object.entries(flowParamShapes(f, cfg))) {
    const t = tensors[name];
    if (!t || t.shape.join() !== shape.join()) {
      tf.dispose(Object.values(params));
      throw new ConfigError(`${source}: flow parameter ${name} expected shape [${shape}], got ${t ? `[${t.shape}]` : 'nothing'}`);
    }
    params[name] = tf.variable(t, trainable);
  }
  return params;
}

/** Loads an L2D checkpoint and its frozen base. The caller calls dispose(). */
export function loadL2d(p: string): LoadedL2d {
  const found = readL2dSection(p);
  if (!found) throw new ConfigError(`${p}: not an L2D checkpoint (its config.json has no l2d section)`);
  const { dir, section } = found;
  const baseDir = l2dBaseDir(dir, section);
  if (!fs.existsSync(baseDir)) throw new ConfigError(`${dir}: its base checkpoint ${baseDir} (l2d.base) does not exist`);
  const baseModel = loadModel(baseDir);
  const ckpt = loadCheckpoint(dir);
  let flow: Params;
  try {
    flow = flowFromTensors(ckpt.params, section.flow, baseModel.cfg, dir, false);
  } catch (e) {
    baseModel.dispose();
    throw e;
  } finally {
    tf.dispose([...Object.values(ckpt.params), ...Object.values(ckpt.optimizer ?? {})]);
  }
  return {
    dir, baseModel, base: baseModel.params, cfg: baseModel.cfg, flow, f: section.flow, ode: section.ode,
    dispose: () => {
      tf.dispose(Object.values(flow));
      baseModel.dispose();
    },
  };
}
