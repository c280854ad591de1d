/** A checkpoint (or run dir) -> a ready model for inference: variables, config, tokenizer and its logits function. */
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../backend/errors.ts';
import { loadCheckpoint, resolveCheckpoint } from '../checkpoint/checkpoint.ts';
import type { LogitsFn } from '../sampling/types.ts';
import { tokenizerFromJSON, type Tokenizer } from '../tokenizer/index.ts';
import type { ModelConfig } from './config.ts';
import { forward, paramShapes, type Params } from './model.ts';

export interface LoadedModel {
  dir: string;
  cfg: ModelConfig;
  params: Params;
  tokenizer: Tokenizer;
  logitsFn: LogitsFn;
  dispose(): void;
}

export function loadModel(path: string, opts: { trainable?: boolean } = {}): LoadedModel {
  const dir = resolveCheckpoint(path);
  const ckpt = loadCheckpoint(dir);
  const cfg = ckpt.config as unknown as ModelConfig;
  const tokenizer = tokenizerFromJSON(ckpt.tokenizerJson, `${dir}/tokenizer.json`);
  if (cfg.vocab_size !== tokenizer.vocabSize) {
    throw new ConfigError(`${dir}: config.json vocab_size ${cfg.vocab_size} differs from tokenizer.json's ${tokenizer.vocabSize}`);
  }
  const params = paramsFromTensors(ckpt.params, cfg, opts.trainable ?? false, dir);
  tf.dispose([...Object.values(ckpt.params), ...Object.values(ckpt.optimizer ?? {})]);
  return {
    dir, cfg, params, tokenizer,
    logitsFn: (ids, mask) => forward(params, cfg, ids, mask),
    dispose: () => tf.dispose(Object.values(params)),
  };
}

/**
 * Checkpoint tensors -> variables in the model's canonical parameter order (sums over parameters follow it, which
 * keeps a resumed run bit-identical). The variables share the tensors' buffers until assigned.
 */
export function paramsFromTensors(tensors: Record<string, tf.Tensor>, cfg: ModelConfig, trainable: boolean, source: string): Params {
  const params: Params = {};
  for (const [name, shape] of Object.entries(paramShapes(cfg))) {
    const t = tensors[name];
    if (!t || t.shape.join() !== shape.join()) throw new ConfigError(`${source}: parameter ${name} expected shape [${shape}], got ${t ? `[${t.shape}]` : 'nothing'}`);
    params[name] = tf.variable(t, trainable);
  }
  return params;
}
