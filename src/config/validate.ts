/**
 * Cross-field checks of a run config against the model it trains: everything the trainers, the samplers and the
 * worker threads would otherwise find only mid-run (a sampler block that does not divide gen_length, a generation
 * longer than the model, a batch that does not split over micro-batches or workers, an eval set too small for a
 * batch). Pure: no files, no tensors. The file checks (checkpoints, data rows, rewards) are in validate_inputs.ts.
 *
 * Each error names the key and where it came from, like the loader's:
 * `configs/sudoku-grpo.yaml:31 sampler.block_length: (5) must divide sampler.gen_length (17)`.
 */
import { ConfigError } from '../errors.ts';
import { resolveSpg, type GrpoConfig, type TrainConfig } from './schema.ts';

/** `file:line` (or `--set key (file)`) of a key path; see LoadedConfig.where. */
export type Where = (keyPath: string) => string;

/** The model a run trains, as far as the checks need it: its length limit and where that limit comes from. */
export interface ModelLimits {
  max_seq_len: number;
  /** e.g. `init_from checkpoint ckpt/step-000400` or `model.max_seq_len`. */
  source: string;
}

export function configError(where: Where, key: string, message: string): ConfigError {
  const at = where(key);
  return new ConfigError(`${at ? `${at} ` : ''}${key}: ${message}`);
}

/** The sampler keys as a config names them (`sampler.gen_length`) or a CLI does (`--gen-length`). */
export type SamplerKeys = Record<'gen_length' | 'block_length' | 'steps', string>;
export const samplerKeys = (prefix: string): SamplerKeys => ({ gen_length: `${prefix}.gen_length`, block_length: `${prefix}.block_length`, steps: `${prefix}.steps` });
export const SAMPLER_FLAGS: SamplerKeys = { gen_length: '--gen-length', block_length: '--block-length', steps: '--steps' };

/** SFT / pretraining. `model` is the init_from (or resumed) checkpoint's, null for a fresh model. */
export function checkTrainConfig(config: TrainConfig, model: ModelLimits | null, where: Where): void {
  const m = config.model;
  const t = config.training;
  if (model === null) {
    if (m.d_model % m.n_heads !== 0) throw configError(where, 'model.n_heads', `(${m.n_heads}) must divide model.d_model (${m.d_model})`);
    if ((m.d_model / m.n_heads) % 2 !== 0) {
      throw configError(where, 'model.n_heads', `head size model.d_model / model.n_heads = ${m.d_model} / ${m.n_heads} = ${m.d_model / m.n_heads} must be even for RoPE`);
    }
    if (config.tokenizer.type === 'file' && !config.tokenizer.path) throw configError(where, 'tokenizer.path', 'is required when tokenizer.type is file');
    if (config.tokenizer.type === 'file' && config.tokenizer.atomic.length > 0) throw configError(where, 'tokenizer.atomic', 'applies to char and bpe; a tokenizer file lists its own added tokens');
  }
  const maxLen = model ?? { max_seq_len: m.max_seq_len, source: 'model.max_seq_len' };
  if (config.data.seq_len > maxLen.max_seq_len) {
    throw configError(where, 'data.seq_len', `(${config.data.seq_len}) exceeds max_seq_len ${maxLen.max_seq_len} of ${maxLen.source}`);
  }
  // The held-out loss runs whole batches: with fewer rows than one batch it has nothing to average (found at the first eval).
  if (config.data.num_eval < t.batch_size) {
    throw configError(where, 'data.num_eval', `(${config.data.num_eval}) must be at least training.batch_size (${t.batch_size}): the eval loss runs whole batches`);
  }
  if (typeof t.workers === 'number' && t.workers > 1 && t.batch_size % t.workers !== 0) {
    throw configError(where, 'training.workers', `(${t.workers}) must divide training.batch_size (${t.batch_size}): each worker takes batch_size / workers rows of every micro-batch`);
  }
}

/** diffu-GRPO. `model` is the init_from (or resumed) checkpoint's. */
export function checkGrpoConfig(config: GrpoConfig, model: ModelLimits, where: Where): void {
  const s = config.sampler;
  const g = config.grpo;
  const t = config.training;
  if (s.gen_length >= model.max_seq_len) {
    throw configError(where, 'sampler.gen_length', `(${s.gen_length}) leaves no room for a prompt in max_seq_len ${model.max_seq_len} of ${model.source}`);
  }
  checkSampler({ sampler: s.name, gen_length: s.gen_length, block_length: s.block_length, steps: s.steps }, samplerKeys('sampler'), where);
  if (g.prompts_per_step % t.grad_accum !== 0) {
    throw configError(where, 'training.grad_accum', `(${t.grad_accum}) must divide grpo.prompts_per_step (${g.prompts_per_step}): each micro-batch takes whole groups of grpo.num_generations (${g.num_generations}) completions`);
  }
  if (typeof t.workers === 'number' && t.workers > 1 && t.grad_accum % t.workers !== 0) {
    throw configError(where, 'training.workers', `(${t.workers}) must divide training.grad_accum (${t.grad_accum}): each worker takes grad_accum / workers micro-batches (raise grad_accum or lower workers)`);
  }
  if (g.objective === 'spg') {
    // SPG's block-wise masks (rl/objectives/spg.ts) would find these at the first loss, inside a worker.
    const spg = resolveSpg(g.spg, s);
    if (s.gen_length % spg.block_length !== 0) {
      throw configError(where, 'grpo.spg.block_length', `(${spg.block_length}) must divide sampler.gen_length (${s.gen_length})`);
    }
    const blocks = s.gen_length / spg.block_length;
    if (spg.num_t > blocks) {
      throw configError(where, 'grpo.spg.num_t', `(${spg.num_t}) must be at most sampler.gen_length / grpo.spg.block_length = ${s.gen_length} / ${spg.block_length} = ${blocks}: each draw masks a different block`);
    }
  }
  if (g.trajectory_states !== null && g.logp_estimator !== 'trajectory') {
    throw configError(where, 'grpo.trajectory_states', `(${g.trajectory_states}) needs grpo.logp_estimator: trajectory (got ${g.logp_estimator})`);
  }
  if (g.trajectory_draw !== 'uniform' && g.trajectory_states === null) {
    throw configError(where, 'grpo.trajectory_draw', `(${g.trajectory_draw}) needs grpo.trajectory_states: it chooses which K sampler states are scored (without trajectory_states every state is)`);
  }
  if (g.credit_baseline !== 'position' && g.credit !== 'token') {
    throw configError(where, 'grpo.credit_baseline', `(${g.credit_baseline}) needs grpo.credit: token (got ${g.credit}): it is the baseline of per-token credit`);
  }
  // ReMDM ignores the temperature (it samples p_θ's nucleus), so only the other samplers turn deterministic at 0.
  if (g.importance_sampling_cap !== null && s.temperature === 0 && s.name !== 'remdm') {
    throw configError(where, 'grpo.importance_sampling_cap', `(${g.importance_sampling_cap}) needs sampler.temperature > 0: at temperature 0 the ${s.name} sampler draws every token deterministically, so there is no sampling distribution to correct for; remove grpo.importance_sampling_cap or raise sampler.temperature`);
  }
}

/**
 * The sampler's block plan (LLaDA's asserts): block_length divides gen_length and, for samplers with a step budget
 * (llada, remdm, prophet), steps (default gen_length / 2 in GRPO) is a whole number that the block count divides.
 */
export function checkSampler(s: { sampler: string; gen_length: number; block_length: number; steps: number | null }, keys: SamplerKeys, where: Where): void {
  if (s.gen_length % s.block_length !== 0) {
    throw configError(where, keys.block_length, `(${s.block_length}) must divide ${keys.gen_length} (${s.gen_length})`);
  }
  if (s.sampler !== 'llada' && s.sampler !== 'remdm' && s.sampler !== 'prophet') return;
  if (s.steps === null && s.gen_length % 2 !== 0) {
    throw configError(where, keys.steps, `is unset, which means gen_length / 2, but ${keys.gen_length} (${s.gen_length}) is odd: set ${keys.steps}`);
  }
  const steps = s.steps ?? s.gen_length / 2;
  const blocks = s.gen_length / s.block_length;
  if (steps % blocks !== 0) {
    throw configError(where, keys.steps, `(${steps}) must be a multiple of the number of blocks ${keys.gen_length} / ${keys.block_length} = ${s.gen_length} / ${s.block_length} = ${blocks}`);
  }
}
