/**
 * The forward (noising) process of masked diffusion, as LLaDA trains it (GUIDELINES.md; samplers.md §1).
 *
 * Per sequence: t ~ U(0,1), p = (1 - eps) t + eps; each maskable token is replaced by [MASK] independently with prob p.
 * Masks are drawn in JS from a dedicated Rng stream (B*L numbers per batch is cheap), so they are identical on every
 * backend and the stream's state can be checkpointed for an exact resume.
 *
 * Both objectives come out as one per-position loss weight w, and the loss is always  sum(w * CE) / B  (see loss.ts):
 *   pretrain:  w = 1 / (p_b * L)                          =>  sum_masked CE / p / (B * L)
 *   sft llada: w = 1 / (p_b * answer_len_b)               =>  per-sample sum CE / p / answer length, then / B
 *   sft d1:    w = B / (p_b * total answer tokens)        =>  sum CE / p / (B*L - prompt tokens)
 * Weights are 0 on unmasked positions. Answer length counts the EOS padding, which is masked and trained like any
 * answer token (that is how the model learns to stop).
 */
import type { Rng } from '../rng.ts';

export interface NoisedBatch {
  /** [B*L] row-major: input ids with the chosen positions replaced by maskId. */
  noisyIds: Int32Array;
  /** [B*L] loss weight per position (0 where not masked). */
  weights: Float32Array;
  /** [B] the masking probability p of each row. */
  pMask: Float32Array;
  /** Number of masked positions in the batch. */
  maskedCount: number;
}

export interface MaskingOptions {
  maskId: number;
  /** Lower bound on p (LLaDA: 1e-3). */
  eps: number;
}

/** Draws t per row, then one uniform per position (every position, maskable or not, so draws per batch are fixed). */
function drawMask(rng: Rng, B: number, L: number, eps: number): { pMask: Float32Array; u: Float64Array } {
  const pMask = new Float32Array(B);
  for (let b = 0; b < B; b++) pMask[b] = (1 - eps) * rng.random() + eps;
  const u = new Float64Array(B * L);
  for (let i = 0; i < B * L; i++) u[i] = rng.random();
  return { pMask, u };
}

/** Pretraining: every position may be masked. `ids` is [B*L] row-major. */
export function pretrainMasking(ids: Int32Array, B: number, L: number, rng: Rng, opts: MaskingOptions): NoisedBatch {
  checkSize(ids, B, L, 'pretrainMasking');
  const { pMask, u } = drawMask(rng, B, L, opts.eps);
  const noisyIds = Int32Array.from(ids);
  const weights = new Float32Array(B * L);
  let maskedCount = 0;
  for (let b = 0; b < B; b++) {
    for (let l = 0; l < L; l++) {
      const i = b * L + l;
      if (u[i] < pMask[b]) {
        noisyIds[i] = opts.maskId;
        weights[i] = 1 / (pMask[b] * L);
        maskedCount++;
      }
    }
  }
  return { noisyIds, weights, pMask, maskedCount };
}

export interface SftMaskingOptions extends MaskingOptions {
  normalization: 'llada' | 'd1';
}

/**
 * SFT: positions l < promptLengths[b] are never masked; the answer (everything after the prompt, EOS padding included)
 * is masked with prob p_b.
 */
export function sftMasking(
  ids: Int32Array,
  promptLengths: ArrayLike<number>,
  B: number,
  L: number,
  rng: Rng,
  opts: SftMaskingOptions,
): NoisedBatch {
  checkSize(ids, B, L, 'sftMasking');
  if (promptLengths.length !== B) throw new Error(`sftMasking: promptLengths has ${promptLengths.length} entries, expected B = ${B}`);
  const { pMask, u } = drawMask(rng, B, L, opts.eps);
  let totalAnswer = 0;
  for (let b = 0; b < B; b++) {
    const pl = promptLengths[b];
    if (pl < 0 || pl >= L) throw new Error(`sftMasking: row ${b} has prompt length ${pl}; it must leave at least one answer token in L = ${L}`);
    totalAnswer += L - pl;
  }
  const noisyIds = Int32Array.from(ids);
  const weights = new Float32Array(B * L);
  let maskedCount = 0;
  for (let b = 0; b < B; b++) {
    const answerLen = L - promptLengths[b];
    const norm = opts.normalization === 'llada' ? answerLen : totalAnswer / B;
    for (let l = promptLengths[b]; l < L; l++) {
      const i = b * L + l;
      if (u[i] < pMask[b]) {
        noisyIds[i] = opts.maskId;
        weights[i] = 1 / (pMask[b] * norm);
        maskedCount++;
      }
    }
  }
  return { noisyIds, weights, pMask, maskedCount };
}

function checkSize(ids: Int32Array, B: number, L: number, fn: string): void {
  if (ids.length !== B * L) throw new Error(`${fn}: ids has ${ids.length} elements, expected B*L = ${B}*${L}`);
}
