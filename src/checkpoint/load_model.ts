/** A checkpoint (or run dir) -> a ready model for inference: variables, config, tokenizer and its logits function. */
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../errors.ts';
import { loadCheckpoint } from './checkpoint.ts';
import { resolveCheckpoint } from './resolve.ts';
import type { LogitsFn } from '../sampling/types.ts';
import { tokenizerFromJSON, type Tokenizer } from '../tokenizer/index.ts';
import type { ModelConfig } from '../model/config.ts';
import { paramShapes, type Params } from '../model/model.ts';
import { modelDenoiser } from '../model/block_cache.ts';

export interface LoadedModel {
  /** The checkpoint directory actually read (a run dir resolves through its `latest` file). */
  dir: string;
  config: ModelConfig;
  /** The same object as `config` (the name `evaluate` and the GRPO rollout read). */
  cfg: ModelConfig;
  params: Params;
  tokenizer: Tokenizer;
  /** (ids int32 [N, L], attentionMask [N, L] | null) => logits [N, L, V]. */
  logitsFn: LogitsFn;
  /** Frees the variables. */
  dispose(): void;
}

const SIZE_KEYS = ['vocab_size', 'd_model', 'n_layers', 'n_heads', 'mlp_hidden', 'max_seq_len'] as const;
const TOKEN_KEYS = [['mask_token_id', 'maskId'], ['eos_token_id', 'eosId'], ['pad_token_id', 'padId']] as const;

/**
 * Loads a checkpoint dir, or a run dir's latest checkpoint, as variables (trainable false unless asked). The tokenizer
 * is built from the checkpoint's tokenizer.json content; config.json's vocab_size and special token ids must match it.
 * Errors are ConfigErrors naming the directory. The caller calls `dispose()`.
 */
export function loadModel(path: string, opts: { trainable?: boolean } = {}): LoadedModel {
  const dir = resolveCheckpoint(path);
  const ckpt = loadCheckpoint(dir);
  const cfg = ckpt.config as unknown as ModelConfig;
  let params: Params;
  let tokenizer: Tokenizer;
  try {
    for (const key of SIZE_KEYS) {
      if (!Number.isInteger(cfg[key]) || cfg[key] < 1) throw new ConfigError(`${dir}/config.json: ${key} (${JSON.stringify(cfg[key])}) must be an integer >= 1`);
    }
    tokenizer = tokenizerFromJSON(ckpt.tokenizerJson, `${dir}/tokenizer.json`);
    if (cfg.vocab_size !== tokenizer.vocabSize) {
      throw new ConfigError(
        `${dir}: config.json vocab_size (${cfg.vocab_size}) differs from the vocabulary size of tokenizer.json (${tokenizer.vocabSize}); the files do not belong together`,
      );
    }
    for (const [key, tokKey] of TOKEN_KEYS) {
      if (cfg[key] !== tokenizer[tokKey]) throw new ConfigError(`${dir}: config.json ${key} (${cfg[key]}) differs from tokenizer.json's (${tokenizer[tokKey]})`);
    }
    params = paramsFromTensors(ckpt.params, cfg, opts.trainable ?? false, dir);
  } finally {
    // The variables share the loaded buffers (tfjs counts references), so this frees only what no variable holds.
    tf.dispose([...Object.values(ckpt.params), ...Object.values(ckpt.optimizer ?? {})]);
  }
  return {
    dir,
    config: cfg,
    cfg,
    params,
    tokenizer,
    logitsFn: modelDenoiser(params, cfg),
    dispose: () => tf.dispose(Object.values(params)),
  };
}

/**
 * Checkpoint tensors -> variables in the model's canonical parameter order (sums over parameters follow it, which
 * keeps a resumed run bit-identical). The variables share the tensors' buffers until assigned. On a missing or
 * misshapen tensor, the variables made so far are freed and a ConfigError names `source` and the parameter.
 */
export function paramsFromTensors(tensors: Record<string, tf.Tensor>, cfg: ModelConfig, trainable: boolean, source: string): Params {
  const params: Params = {};
  for (const [name, shape] of Object.entries(paramShapes(cfg))) {
    const t = tensors[name];
    if (!t || t.shape.join() !== shape.join()) {
      tf.dispose(Object.values(params));
      throw new ConfigError(`${source}: parameter ${name} expected shape [${shape}], got ${t ? `[${t.shape}]` : 'nothing'}`);
    }
    params[name] = tf.variable(t, trainable);
  }
  return params;
}
