/**
 * What an RL objective is to the GRPO loop. The loop (rollout.ts, grpo_trainer.ts) samples G completions per prompt,
 * scores them and computes group advantages whatever the objective; an objective says how a policy is scored on a
 * micro-batch and what loss those scores give:
 *
 *   phase 3, per inner update k:  draw = objective.draw(mb, rng)          masks etc., shared by old, ref and current
 *                                 old  = objective.score(old policy)      cached when objective.cachesOld(μ)
 *                                 ref  = objective.score(reference)       cached when objective.cachesRef(β)
 *   inner update k, per part j:   loss = objective.loss(objective.score(current policy, part j), old, ref, mb, draw, j)
 *
 * The parts' losses SUM to the micro-batch loss (one part, except where an estimator splits into forward passes that
 * can be differentiated one at a time). Draws and scores are records of tensors the micro-batch owns (disposed with it).
 */
import type * as tf from '@tensorflow/tfjs';
import type { Rng } from '../../rng.ts';
import type { ModelConfig } from '../../model/config.ts';
import type { Params } from '../../model/model.ts';

export type ObjectiveName = 'd1' | 'wd1' | 'spg' | 'espo';

/** The tensors of one micro-batch of whole groups (rows [start, end) of the rollout), built by rollout.ts. */
export interface MicroTensors {
  /** Row range [start, end) of the rollout; always whole groups of G rows, in order. */
  start: number;
  end: number;
  ids: tf.Tensor2D; // int32 [n, L]: left padding, prompt, completion
  attentionMask: tf.Tensor2D; // float32 [n, L]
  promptMask: tf.Tensor2D; // int32 [n, L]: 1 on real prompt tokens (the maskable ones)
  completionMask: tf.Tensor2D; // float32 [n, Lg]: 1 up to and including the first EOS
  advantages: tf.Tensor1D | tf.Tensor2D; // float32 [n], or [n, Lg] per token with credit: process
  /** Sampler step (1-based) at which each completion token was committed, int32 [n, Lg]; when the rollout recorded it. */
  commitStep: tf.Tensor2D | null;
  numSteps: number;
  /** The rollout sampler's log-prob of each completion token, float32 [n, Lg] (grpo.importance_sampling_cap); else null/absent. */
  samplerLogp?: tf.Tensor2D | null;
}

/** The randomness of one inner update (mask seeds, drawn states, ...): numbers and tensors, disposed with the batch. */
export type Draw = Record<string, number | tf.Tensor | null>;
/** A policy's estimate on a micro-batch under one draw (per-token log-probs [n, Lg], sequence ELBOs [n], ...). */
export type Scores = Record<string, tf.Tensor>;

export interface PolicyModel {
  params: Params;
  cfg: ModelConfig;
}

export interface ObjectiveLoss {
  loss: tf.Scalar;
  /** Scalars for the metrics (averaged over micro-batches and inner updates; the objective's own terms). */
  report: Record<string, tf.Scalar>;
}

export interface Objective {
  name: ObjectiveName;
  /** Whether phase 3 caches the sampling policy's scores (μ inner updates). */
  cachesOld(mu: number): boolean;
  /** Whether phase 3 caches the reference model's scores (β). */
  cachesRef(beta: number): boolean;
  /** The randomness of one inner update; called once per (micro-batch, k) in phase 3, in order, from `rng`. */
  draw(mb: MicroTensors, rng: Rng): Draw;
  /** Differentiable scores of `model` under `draw`; `part` (< parts) computes that part's share alone. */
  score(model: PolicyModel, mb: MicroTensors, draw: Draw, part?: number): Scores;
  /** How many parts the loss splits into (1 for most objectives). */
  parts(mb: MicroTensors, draw: Draw): number;
  /** The micro-batch loss (or `part`'s share of it) from the current scores and the cached old / reference scores. */
  loss(cur: Scores, old: Scores | null, ref: Scores | null, mb: MicroTensors, draw: Draw, part?: number): ObjectiveLoss;
}
