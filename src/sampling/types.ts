/**
 * Contracts of the sampling package: the abstract denoiser (`LogitsFn`) every sampler and estimator is written
 * against, and the options of `generate` (samplers.md §1–§5). Option names keep the papers' snake_case.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';

/**
 * The denoiser. `ids` int32 [N, L]; `attentionMask` [N, L] with 1 on real tokens and 0 on left padding (null = no
 * padding anywhere). Returns float32 logits [N, L, V]. The real model is `(ids, mask) => forward(params, cfg, ids, mask)`.
 * Samplers call it inside `tf.tidy`, so its intermediates are freed; it must not keep the tensors it is given.
 */
export type LogitsFn = ((ids: tf.Tensor2D, attentionMask: tf.Tensor2D | null) => tf.Tensor3D) & {
  /**
   * Optional windowed pass for `cache: prefix | dual` (model/block_cache.ts forwardWindow): logits [N, end − start, V]
   * of columns [start, end) only, the other columns' keys/values read from `kv` (null: the whole row, which also
   * returns every column's keys/values); with `logitCols` [s, e) only those columns' logits [N, e − s, V]. Without it,
   * `cache` is refused.
   */
  window?: (ids: tf.Tensor2D, attentionMask: tf.Tensor2D | null, start: number, end: number, kv: KvColumns | null, logitCols?: readonly [number, number] | null) => KvColumns & { logits: tf.Tensor3D };
  /**
   * Optional exact pass that returns only columns [start, end)'s logits [N, end − start, V] (model.ts `forward`'s
   * `cols`: the last block runs on those columns only). The samplers read one block's logits, so without a cache they
   * ask for the current block's; without it they get the whole row and read the same block.
   */
  cols?: (ids: tf.Tensor2D, attentionMask: tf.Tensor2D | null, start: number, end: number) => tf.Tensor3D;
};

/** Per layer [N·H, T, dh]: keys (RoPE applied) and values, as model/block_cache.ts ColumnKv. */
export interface KvColumns {
  keys: tf.Tensor3D[];
  values: tf.Tensor3D[];
}

export type SamplerName = 'llada' | 'dus' | 'remdm' | 'threshold' | 'eb' | 'prophet';
export const SAMPLER_NAMES: readonly SamplerName[] = ['llada', 'dus', 'remdm', 'threshold', 'eb', 'prophet'];

/**
 * Fast-dLLM's block-wise KV cache (samplers.md §5): `prefix` recomputes [block start, L) after the block's first call,
 * `dual` only the block; both approximate (bidirectional attention), see model/block_cache.ts for when it is exact.
 */
export type CacheMode = 'none' | 'prefix' | 'dual';
export const CACHE_MODES: readonly CacheMode[] = ['none', 'prefix', 'dual'];

/** ReMDM σ_t schedules (samplers.md §2). */
export type RemdmStrategy = 'cap' | 'rescale' | 'conf' | 'loop';
/** ReMDM: which masked positions take a step's unmasks (remdm.ts). */
export type RemdmOrder = 'random' | 'confidence';

/** What `onStep` receives after every model call (for `--trace`). */
export interface StepState {
  /** 1-based count of sampler steps so far (one per model call). */
  step: number;
  /** 0-based index of the semi-autoregressive block being decoded. */
  block: number;
  /** Current ids of every row [N][L], left padding and prompt included. */
  ids: number[][];
  /** Forward passes so far (a CFG pair counts 2). */
  nfe: number;
}

/** Token ids, randomness and tracing shared by every sampler. */
export interface SamplingIds {
  /** [MASK] id (LLaDA 126336); never sampled: its logit is set to -inf before any choice. */
  maskId: number;
  /** End-of-sequence id; its logit is set to -inf when `suppress_eos` (LLaDA's `logits_eos_inf`). */
  eosId: number;
  /** Left-padding id (must differ from maskId). */
  padId: number;
  /** Source of every random draw (Gumbel noise, random remasking, ReMDM posteriors): tf op seeds come from `rng.seed()`. */
  rng: Rng;
  onStep?: (state: StepState) => void;
}

export interface GenerateOptions extends SamplingIds {
  /** Prompt token ids, one array per prompt (lengths may differ: rows are left-padded with padId). */
  prompts: number[][];
  /** G: each prompt is repeated G times, copies adjacent (row = prompt·G + g). Default 1. */
  num_generations?: number;
  sampler: SamplerName;
  /** Lg: number of generated tokens per row. */
  gen_length: number;
  /** Semi-AR block size; must divide gen_length. Default gen_length (one block). */
  block_length?: number;
  /** Total denoising steps for `llada`, `prophet` and `remdm`; a multiple of the number of blocks. Default gen_length. */
  steps?: number;
  /** Gumbel-max temperature τ for llada/dus/threshold; 0 = greedy argmax. Default 0. */
  temperature?: number;
  /** Classifier-free guidance w: logits = un + (w+1)(cond − un). 0 = off. Default 0. */
  cfg_scale?: number;
  /** llada only: confidence = p(sampled token) (`low_confidence`) or U(0,1) (`random`). Default low_confidence. */
  remasking?: 'low_confidence' | 'random';
  /** Never generate eosId (LLaDA `logits_eos_inf`). Default false. */
  suppress_eos?: boolean;
  /** threshold only: commit every masked position with confidence ≥ threshold (Fast-dLLM τ). Default 0.9. */
  threshold?: number;
  /** threshold only: if set, use the factor rule instead: largest n with (n+1)(1 − c_(n)) ≤ factor. */
  factor?: number;
  /** eb only: entropy budget γ: commit the largest low-entropy-first set U with Σ_U H − max_U H ≤ γ. Default 0.1. */
  gamma?: number;
  /**
   * prophet only: the top-2 log-prob gap (mean over the block's masked positions of a row) above which that row commits
   * everything left in the block, per third of the block's progress (early, middle, late). Default [7.5, 5, 2.5].
   */
  prophet_gaps?: [number, number, number];
  /** Block KV cache (Fast-dLLM): none | prefix | dual. Default none. Needs a LogitsFn with `window` (the model's). */
  cache?: CacheMode;
  /** When a row has committed EOS, fill its [MASK]s after that EOS with EOS (no model call decides them). Default false. */
  eos_fill?: boolean;
  /** remdm only: σ_t schedule. Default 'cap'. */
  remdm_strategy?: RemdmStrategy;
  /** remdm only: η (η_cap for cap). Default per strategy, from the ReMDM scripts: cap 0.008, rescale 0.015, loop 0.02. */
  eta?: number;
  /** remdm loop: start of the loop phase (t ≤ t_on). Default 0.55. */
  t_on?: number;
  /** remdm loop: end of the loop phase (t > t_off). Default 0.05. */
  t_off?: number;
  /** remdm loop: α held during the loop. Default 0.9. */
  alpha_on?: number;
  /** remdm only: nucleus top-p on p_θ (the top token is always kept). Default 0.9; 1 = off; 1e-6 = greedy tokens. */
  top_p?: number;
  /** remdm only: `random` (the paper: positions unmask independently) or `confidence` (most probable x0 first). Default random. */
  remdm_order?: RemdmOrder;
  /**
   * Tokens held fixed in the generation region, per ROW [N][Lg] (N = prompts × G): a token id is placed before the
   * first step and never changed, like a prompt token (no sampler writes it, ReMDM never re-masks it); null = sampled.
   * Inpainting (IGPO, rl/inpaint.ts). Absent = every position is sampled.
   */
  fixed?: (number | null)[][];
  /**
   * Also return `logps`: per generated position, the log-prob of the token the sampler committed under the
   * distribution it drew it from (GRPO's importance-sampling correction, grpo.importance_sampling_cap). Default false:
   * inference computes nothing extra.
   */
  record_logps?: boolean;
}

export interface GenerateResult {
  /** Completion ids per row [N][Lg] (prompt and padding removed), N = prompts × G. */
  sequences: number[][];
  /** Full rows [N][L], L = max prompt length + Lg: left padding, prompt, completion. */
  full: number[][];
  /** Forward passes over the batch; a CFG (cond, uncond) pair runs as one batched call but counts 2. */
  nfe: number;
  /**
   * Row-positions the model computed: Σ over calls of rows run × columns run (finished rows are skipped; a cached
   * call runs only its window; CFG rows count twice). Divide by N·gen_length for positions per generated token.
   */
  positions?: number;
  /** Unpadded prompt length of each row [N]. */
  promptLengths: number[];
  /**
   * With record_logps, [N][Lg]: log_softmax(logits/τ)[token] with the logits of the call that committed the token
   * (cached/windowed, CFG-combined, banned tokens at −inf); ReMDM: log p_θ (nucleus-filtered) of its last commit.
   * 0 where the draw was deterministic: τ = 0, ReMDM's final argmax fill, eos_fill, fixed tokens.
   */
  logps?: number[][];
}
