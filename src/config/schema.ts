/**
 * The YAML schema of a training run, one section per concern. Every object is strict: an unknown key is an error.
 * Keys keep the papers' snake_case names (LLaDA, d1, TRL). Defaults are the values a run gets when a key is absent.
 */
import { z } from 'zod';
import { espoSchema, inpaintSchema, spgSchema } from './objective_schema.ts';

export { espoSchema, inpaintSchema, resolveSpg, spgSchema, type SpgOptions } from './objective_schema.ts';

const positiveInt = z.number().int().positive();
const workersSchema = z.union([positiveInt, z.literal('auto')]).default(1);
/** training.recompute: gradient checkpointing per transformer block (model/recompute.ts), one extra forward per block. */
const recomputeSchema = z.boolean().default(false);
const nonNegInt = z.number().int().nonnegative();

export const runSchema = z.strictObject({
  /** Name used in logs. */
  name: z.string().default('run'),
  /** Where checkpoints, metrics.jsonl and the resolved config go (relative to the current directory). */
  output_dir: z.string(),
  /** Seeds every random stream (masking, data order, sampling) and, unless model.init_seed is set, the init. */
  seed: nonNegInt.default(0),
});

export const runtimeSchema = z.strictObject({
  /** auto tries tfjs-node-gpu, then tfjs-node, then wasm; never falls back to cpu silently. */
  backend: z.enum(['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']).default('auto'),
  /** Data directory; null = env DIFFRL_DATA_DIR, else the repository's data/. */
  data_dir: z.string().nullable().default(null),
});

export const modelSchema = z.strictObject({
  d_model: positiveInt,
  n_layers: positiveInt,
  n_heads: positiveInt,
  mlp_hidden: positiveInt,
  max_seq_len: positiveInt,
  rope_theta: z.number().positive().default(10000),
  norm_eps: z.number().positive().default(1e-5),
  /** Seed of the weight init; null = run.seed. */
  init_seed: nonNegInt.nullable().default(null),
  /** Start from this checkpoint (a checkpoint dir or a run dir) instead of a fresh init; its architecture wins. */
  init_from: z.string().nullable().default(null),
  causal: z.boolean().default(false), // true: autoregressive (causal mask, next-token loss; sampled left to right, KV cache)
});

export const tokenizerSchema = z.strictObject({
  /** char: one token per character of `chars`; bpe: byte-level BPE trained on the training text; file: a tokenizer.json. */
  type: z.enum(['char', 'bpe', 'file']).default('char'),
  /** Characters of the char vocabulary; null = the task's default set. */
  chars: z.string().nullable().default(null),
  /** Target vocabulary size for bpe. */
  vocab_size: positiveInt.default(1024),
  /** tokenizer.json path for type: file. */
  path: z.string().nullable().default(null),
  /** Strings that are always one token (char and bpe), e.g. d1's tags `<reasoning>`, `</answer>`; BPE never merges across them. */
  atomic: z.array(z.string().min(1)).default([]),
});

export const dataSchema = z.strictObject({
  /**
   * Prompt/answer template and, for synthetic tasks, the generator: sudoku | countdown | gsm8k | arithmetic | plain.
   * arithmetic = generated one- and two-step word problems in GSM8K's format (template, rewards and eval parsing).
   */
  task: z.enum(['sudoku', 'countdown', 'gsm8k', 'arithmetic', 'plain']),
  /** Training file, relative to the data directory; null = generate (sudoku, countdown, arithmetic). */
  train_path: z.string().nullable().default(null),
  /** Column mapping, our name -> column name (e.g. { prompt: question, answer: answer }). */
  fields: z.record(z.string(), z.string()).default({}),
  /** Generated training items (synthetic tasks) or a cap on the file's rows (null = all). */
  num_train: positiveInt.nullable().default(null),
  /** Held-out items for the eval loss: generated, or taken from the end of the training file. */
  num_eval: positiveInt.default(256),
  /** Every sequence is prompt + answer + EOS padding to exactly this many tokens; longer ones are dropped and counted. */
  seq_len: positiveInt,
  /** Countdown: answers start with a worked signed sum (tasks/countdown.ts signedSumTrace) before <answer>. */
  countdown_trace: z.boolean().default(false),
  /** Countdown: each row is one line of that trace ("030+100=" -> "130"), 5 rows per puzzle: the arithmetic curriculum. */
  countdown_ops: z.boolean().default(false),
  /**
   * Countdown: only puzzles a signed sum solves, answered as the numbers in the prompt's order each behind its sign
   * ("<answer>+ 30-100+ 93</answer>", tasks/countdown.ts signedSumSigns): no trace, three sign choices.
   */
  countdown_signs: z.boolean().default(false),
  /** Arithmetic: single-digit operands (tasks/arithmetic.ts `small`): one-token numbers, one-digit facts. */
  arithmetic_small: z.boolean().default(false),
});

export const objectiveSchema = z.strictObject({
  /** sft: prompt never masked, answer (with EOS padding) masked; pretrain: every token may be masked. */
  type: z.enum(['sft', 'pretrain']).default('sft'),
  /** p = (1 - eps) t + eps, so no sequence is left unmasked (LLaDA: 1e-3). */
  eps: z.number().min(0).max(1).default(1e-3),
  /** SFT normalisation: llada = per-sample answer length then / B (LLaDA GUIDELINES); d1 = / (B*L - prompt tokens). */
  normalization: z.enum(['llada', 'd1']).default('llada'),
});

export const optimizerSchema = z.strictObject({
  lr: z.number().positive(),
  beta1: z.number().min(0).max(1).default(0.9),
  beta2: z.number().min(0).max(1).default(0.999),
  eps: z.number().positive().default(1e-8),
  /** Decoupled (AdamW) weight decay, applied to matrices only. */
  weight_decay: z.number().min(0).default(0.1),
  /** Global gradient-norm clip; 0 = off. */
  max_grad_norm: z.number().min(0).default(1.0),
});

export const scheduleSchema = z.strictObject({
  type: z.enum(['cosine', 'constant', 'linear']).default('cosine'),
  warmup_steps: nonNegInt.default(0),
  /** Final lr as a fraction of optimizer.lr (cosine, linear). */
  min_lr_ratio: z.number().min(0).max(1).default(0.1),
});

export const trainingSchema = z.strictObject({
  max_steps: positiveInt,
  /** Sequences per micro-batch. */
  batch_size: positiveInt,
  /** Micro-batches per optimizer step. */
  grad_accum: positiveInt.default(1),
  /**
   * Data-parallel worker threads (train/parallel.ts), each with its own embedded backend, taking batch_size / workers
   * rows of every micro-batch (one core each with wasm); 1 = everything in the main thread. auto = the most cores that
   * divide batch_size with wasm or cpu, 1 with tfjs-node(-gpu) (which already uses every core).
   */
  workers: workersSchema,
  /** Held-out eval loss every N steps (0 = only at the end). */
  eval_every: nonNegInt.default(100),
  /** Checkpoint every N steps (0 = only at the end). */
  save_every: nonNegInt.default(500),
  /** Checkpoints kept (the newest); `latest` is never pruned. */
  keep_last: positiveInt.default(2),
  /** Metrics line every N steps. */
  log_every: positiveInt.default(10),
  recompute: recomputeSchema,
});

export const loggingSchema = z.strictObject({
  level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** Progress bar: auto = only on a TTY. */
  progress: z.enum(['auto', 'on', 'off']).default('auto'),
});

export const trainConfigSchema = z.strictObject({
  run: runSchema,
  runtime: runtimeSchema.default(runtimeSchema.parse({})),
  model: modelSchema,
  tokenizer: tokenizerSchema.default(tokenizerSchema.parse({})),
  data: dataSchema,
  objective: objectiveSchema.default(objectiveSchema.parse({})),
  optimizer: optimizerSchema,
  schedule: scheduleSchema.default(scheduleSchema.parse({})),
  training: trainingSchema,
  logging: loggingSchema.default(loggingSchema.parse({})),
});

export type TrainConfig = z.infer<typeof trainConfigSchema>;

// ---------------------------------------------------------------------------------------------------------------
// diffu-GRPO (d1). Defaults are d1's where d1 sets them (diffu-grpo/slurm_scripts, train.yaml; research/d1-grpo.md).

export const samplerSchema = z.strictObject({
  /** llada (low-confidence remasking, semi-AR blocks) | dus | remdm | threshold | eb | prophet (README "Performance"). */
  name: z.enum(['llada', 'dus', 'remdm', 'threshold', 'eb', 'prophet']).default('llada'),
  gen_length: positiveInt.default(64),
  /** d1 RL: 32. */
  block_length: positiveInt.default(32),
  /** Denoising steps over the whole generation (llada, remdm); d1 RL: gen_length / 2 (2 tokens per step). */
  steps: positiveInt.nullable().default(null),
  /** Gumbel temperature; d1 RL: 0.9 (0 = greedy). */
  temperature: z.number().min(0).default(0.9),
  cfg_scale: z.number().min(0).default(0),
  remasking: z.enum(['low_confidence', 'random']).default('low_confidence'),
  /** Confidence threshold (threshold sampler). */
  threshold: z.number().gt(0).lte(1).default(0.9),
  /** eb: entropy budget γ; prophet: top-2 gaps (early, middle, late); null = the sampler's default. */
  gamma: z.number().gt(0).nullable().default(null),
  prophet_gaps: z.tuple([z.number().min(0), z.number().min(0), z.number().min(0)]).nullable().default(null),
  /**
   * Fast-dLLM block KV cache in the rollouts (model/block_cache.ts): approximate, and the log-prob estimators score the
   * tokens with the exact model, so the update is off-policy by the cache's error (grpo.importance_sampling_cap).
   */
  cache: z.enum(['none', 'prefix', 'dual']).default('none'),
  /** Fill a row's masks after its first EOS with EOS (no model call decides them). */
  eos_fill: z.boolean().default(false),
});

export const OBJECTIVES = ['d1', 'wd1', 'spg', 'espo'] as const;

/** grpo.* checks across keys (after parsing). */
export function checkGrpoKeys(g: { num_generations: number; inpaint: { members: number } | null }, ctx: z.RefinementCtx): void {
  if (g.inpaint && g.inpaint.members > g.num_generations) {
    ctx.addIssue({ code: 'custom', path: ['inpaint', 'members'], message: `(${g.inpaint.members}) must be at most grpo.num_generations (${g.num_generations})` });
  }
}

export const grpoSchema = z.strictObject({
  /**
   * The policy-optimization objective (rl/objectives/): d1 = diffu-GRPO's clipped token ratio + KL on per-token
   * log-prob estimates; wd1 = ratio-free weighted likelihood (softmax(±A) over the group, d1's one-step log π);
   * espo = ESPO's clipped sequence ratio of ELBOs + k2 KL. Each objective reads only the keys OBJECTIVE_KEYS gives it.
   */
  objective: z.enum(OBJECTIVES).default('d1'),
  /** G: completions per prompt (d1: 6). */
  num_generations: z.number().int().min(2).default(6),
  /** P: prompts per optimizer step (d1: 16 prompts x 6 completions per step). */
  prompts_per_step: positiveInt.default(16),
  /** μ: inner updates per rollout batch, each with its own prompt-mask seed (d1: 8 for Sudoku/Countdown, 12 math). */
  num_iterations: positiveInt.default(8),
  /**
   * Groups whose G rewards are all equal (advantage 0: no learning signal; TRL frac_reward_zero_std): keep = train on
   * them (d1); drop = leave them out of the loss, normalised over the kept groups; refill = replace them by fresh
   * groups from the data cursor, at most zero_std_refill_rounds extra sampling rounds, then keep the rest (DAPO).
   */
  zero_std_groups: z.enum(['keep', 'drop', 'refill']).default('keep'),
  zero_std_refill_rounds: positiveInt.default(2),
  /** IGPO: re-sample part of an all-fail group with part of the known solution fixed (inpaintSchema); null = off. */
  inpaint: inpaintSchema.nullable().default(null),
  /** β: k3 KL coefficient (d1: 0.04); 0 drops the reference model. */
  beta: z.number().min(0).default(0.04),
  /** ε: lower clip (d1: 0.5). */
  epsilon: z.number().gt(0).default(0.5),
  /** ε_high: upper clip (DAPO); null = ε. */
  epsilon_high: z.number().gt(0).nullable().default(null),
  /** Advantage scaling: none = r - group mean (d1); group / batch divide by the std (TRL). */
  scale_rewards: z.enum(['none', 'group', 'batch']).default('none'),
  /** Negative advantages (per completion and token) set to 0: learn only from what beat the group mean (RAFT-like). */
  drop_negative_advantages: z.boolean().default(false),
  /** Token aggregation of the loss. */
  loss_type: z.enum(['bnpo', 'grpo', 'dr_grpo']).default('bnpo'),
  /** Each prompt token masked with this prob in the one-step log-prob estimate (d1 train.yaml: 0.15). */
  p_mask_prompt: z.number().min(0).max(1).default(0.15),
  logp_estimator: z.enum(['one_step', 'coupled', 'trajectory']).default('one_step'),
  /** d1: token = one importance ratio per token (d1); sequence = one per completion, exp(mean log-ratio) (GSPO, TRL). */
  importance_sampling_level: z.enum(['token', 'sequence']).default('token'),
  /**
   * d1: truncated importance sampling for a rollout sampler the estimator does not match (TRL
   * vllm_importance_sampling_cap): each token's policy term × min(exp(logp_old − logp_sampler), cap), detached. null = off.
   */
  importance_sampling_cap: z.number().gt(0).nullable().default(null),
  /**
   * trajectory only: score K random sampler states per completion instead of all (K passes instead of sampler.steps;
   * the loss averages over the tokens committed at those states, each token drawn with prob K/steps). null = all.
   */
  trajectory_states: positiveInt.nullable().default(null),
  /**
   * trajectory_states only: uniform = K of the states at random. credited = first among the states that commit a token
   * with a non-zero advantage (rl/objectives/d1.ts drawCreditedStates; Horvitz–Thompson weights keep the policy
   * gradient's expectation), so fewer scored passes go to tokens that only carry the KL term.
   */
  trajectory_draw: z.enum(['uniform', 'credited']).default('uniform'),
  /** spg only: SPG's bounds and block-wise masks. */
  spg: spgSchema.default(spgSchema.parse({})),
  /**
   * outcome: one advantage per completion, r − group mean (d1). process: rewards that credit characters (e.g. sudoku's
   * cells) give each token the reward-to-go from its sampler step on, minus the group mean (DeepSeekMath §4.1.3).
   * token: each token its own credit minus the group's mean credit at the same position (rl/advantages.ts).
   */
  credit: z.enum(['outcome', 'process', 'token']).default('outcome'),
  /**
   * credit: token only. position: a token's credit minus the group's mean credit at the same position. group: minus the
   * group's mean credit per judged token (DeepSeekMath §4.1.3), so cells every completion fills alike still carry signal.
   */
  credit_baseline: z.enum(['position', 'group']).default('position'),
  /** Sync the reference model every N steps as ref = α·policy + (1−α)·ref (TR-DPO); 0 = never. */
  ref_model_sync_steps: nonNegInt.default(0),
  ref_model_mixup_alpha: z.number().min(0).max(1).default(0.6),
  /** Rollouts (prompt, completion, rewards, advantage) written to rollouts.arrow per step. */
  log_rollouts: nonNegInt.default(4),
  /** espo only: ESPO's ELBO estimate and baseline. */
  espo: espoSchema.default(espoSchema.parse({})),
});

export type GrpoSection = z.infer<typeof grpoSchema>;

/**
 * grpo.* keys that only some objectives read. Setting one under another objective is a config error (it would be
 * silently ignored); every key not listed applies to all objectives.
 */
export const OBJECTIVE_KEYS: Record<string, readonly (typeof OBJECTIVES)[number][]> = {
  epsilon: ['d1', 'espo'],
  epsilon_high: ['d1', 'espo'],
  loss_type: ['d1'],
  logp_estimator: ['d1'],
  trajectory_states: ['d1'],
  trajectory_draw: ['d1'],
  importance_sampling_level: ['d1'],
  importance_sampling_cap: ['d1'],
  credit: ['d1'],
  credit_baseline: ['d1'],
  p_mask_prompt: ['d1', 'wd1', 'spg'],
  // wd1 has no reference model (and no ratio); SPG neither (spg_trainer.py l.123–124 raises on beta ≠ 0).
  beta: ['d1', 'espo'],
  ref_model_sync_steps: ['d1', 'espo'],
  ref_model_mixup_alpha: ['d1', 'espo'],
  espo: ['espo'],
  spg: ['spg'],
};

/**
 * Shared keys whose default differs under an objective (its paper's recipe), applied when the key is absent.
 * espo: ML-GSAI/ESPO recipes/train.yaml l.17–18 (beta 0.01, epsilon 0.2).
 */
export const OBJECTIVE_DEFAULTS: Partial<Record<(typeof OBJECTIVES)[number], Record<string, unknown>>> = {
  espo: { epsilon: 0.2, beta: 0.01 },
  // spg: every SPG script runs β 0 and μ = NUM_ITER 4 (slurm_scripts/spg_*/*.sbatch).
  spg: { beta: 0, num_iterations: 4 },
};

/** grpoSchema, refusing the keys the chosen objective does not read (named with the objective). */
export const grpoSectionSchema = z.preprocess((raw, ctx) => {
  if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
    const objective = String((raw as Record<string, unknown>).objective ?? 'd1');
    for (const key of Object.keys(raw)) {
      const only = OBJECTIVE_KEYS[key];
      if (only && (OBJECTIVES as readonly string[]).includes(objective) && !only.includes(objective as (typeof OBJECTIVES)[number])) {
        ctx.addIssue({ code: 'custom', path: [key], message: `does not apply to grpo.objective: ${objective} (only to ${only.join(', ')}); remove it` });
      }
    }
    const defaults = OBJECTIVE_DEFAULTS[objective as (typeof OBJECTIVES)[number]];
    if (defaults) return { ...defaults, ...(raw as Record<string, unknown>) };
  }
  return raw;
}, grpoSchema);

export const rewardSpecSchema = z.strictObject({
  /** A built-in reward (e.g. sudoku, countdown, gsm8k_correctness) ... */
  name: z.string().optional(),
  /** ... or a module of your own (TS or JS, relative to the config file) and its export. */
  module: z.string().optional(),
  export: z.string().optional(),
  weight: z.number().default(1),
  args: z.record(z.string(), z.unknown()).default({}),
});

export const grpoDataSchema = z.strictObject({
  /** Prompt template, generator and reward columns: sudoku | countdown | gsm8k | arithmetic | plain. */
  task: z.enum(['sudoku', 'countdown', 'gsm8k', 'arithmetic', 'plain']),
  /** Prompt file relative to the data dir; null = generate (sudoku, countdown, arithmetic). */
  train_path: z.string().nullable().default(null),
  fields: z.record(z.string(), z.string()).default({}),
  /** Generated prompts (or a cap on the file's rows). */
  num_train: positiveInt.nullable().default(null),
  /** Seed of the generated prompt set; null = run.seed + 1 (a different set from SFT's). */
  seed: nonNegInt.nullable().default(null),
  /** Countdown: rows carry the signed-sum trace (as in SFT's data.countdown_trace), used by inpainting's hints. */
  countdown_trace: z.boolean().default(false),
  /** Countdown: only puzzles a signed sum solves, their reference in the signs format (as SFT's data.countdown_signs). */
  countdown_signs: z.boolean().default(false),
  /** Arithmetic: single-digit operands, as SFT's data.arithmetic_small (the prompts must match the SFT's). */
  arithmetic_small: z.boolean().default(false),
});

export const grpoTrainingSchema = z.strictObject({
  max_steps: positiveInt,
  /** Micro-batches per rollout batch (whole groups each); one optimizer step per inner iteration. */
  grad_accum: positiveInt.default(1),
  /**
   * Data-parallel worker threads (rl/workers.ts), each sampling, caching log-probs and taking gradients for
   * grad_accum / workers micro-batches; auto = the most cores that divide grad_accum (1 on tfjs-node(-gpu)).
   */
  workers: workersSchema,
  eval_every: nonNegInt.default(0),
  save_every: nonNegInt.default(50),
  keep_last: positiveInt.default(2),
  log_every: positiveInt.default(1),
  recompute: recomputeSchema,
});

export const periodicEvalSchema = z.strictObject({
  /** Test set evaluated every training.eval_every steps (greedy, d1's eval parsing); null = no periodic eval. */
  task: z.enum(['sudoku', 'countdown', 'gsm8k', 'math500', 'humaneval', 'mbpp']).nullable().default(null),
  /** Items of the test set (deterministic by seed). */
  subset: positiveInt.default(64),
  seed: nonNegInt.default(0),
  batch_size: positiveInt.default(64),
  /** Scorer for gsm8k, math500, countdown, sudoku: `d1` (d1's eval parsers exactly) or `lenient` (README "Evaluation"). */
  parser: z.enum(['d1', 'lenient']).default('d1'),
});

export const grpoConfigSchema = z.strictObject({
  run: runSchema,
  runtime: runtimeSchema.default(runtimeSchema.parse({})),
  /** The starting (SFT) checkpoint: the policy's init and the frozen reference model. */
  init_from: z.string(),
  data: grpoDataSchema,
  rewards: z.array(rewardSpecSchema).min(1),
  sampler: samplerSchema.default(samplerSchema.parse({})),
  grpo: grpoSectionSchema.superRefine(checkGrpoKeys).default(grpoSchema.parse({})),
  optimizer: optimizerSchema.extend({ max_grad_norm: z.number().min(0).default(0.2) }),
  schedule: scheduleSchema.default(scheduleSchema.parse({ type: 'constant' })),
  training: grpoTrainingSchema,
  eval: periodicEvalSchema.default(periodicEvalSchema.parse({})),
  logging: loggingSchema.default(loggingSchema.parse({})),
});

export type GrpoConfig = z.infer<typeof grpoConfigSchema>;
