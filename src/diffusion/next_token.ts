/**
 * The causal (autoregressive) model's objective: next-token cross-entropy, as one weight per position like the
 * masked objectives (forward_process.ts), so the same loss (loss.ts: sum(w · CE) / B) and trainer serve both.
 * Position l sees tokens ≤ l (model.ts, cfg.causal) and its target is token l + 1; the last position has no target.
 *   sft llada: w = 1 / answer_len_b on every position whose target is an answer token (l + 1 ≥ prompt length), so
 *              each row's answer CE is averaged, then / B; the prompt is never a target
 *   sft d1:    w = B / total answer tokens
 *   pretrain:  w = 1 / (L − 1) on every position l < L − 1
 * The input is the clean row (nothing is masked) and the answer includes its EOS padding, as in SFT.
 */
export interface NextTokenBatch {
  /** [B·L] the input ids (the row itself). */
  inputIds: Int32Array;
  /** [B·L] target of position l: the id at l + 1 (the last position repeats its own id, weight 0). */
  targets: Int32Array;
  /** [B·L] loss weight per position. */
  weights: Float32Array;
}

export function nextTokenBatch(ids: Int32Array, promptLengths: ArrayLike<number> | null, B: number, L: number, normalization: 'llada' | 'd1' = 'llada'): NextTokenBatch {
  if (ids.length !== B * L) throw new Error(`nextTokenBatch: ids has ${ids.length} elements, expected B*L = ${B}*${L}`);
  const targets = new Int32Array(B * L);
  const weights = new Float32Array(B * L);
  let totalAnswer = 0;
  for (let b = 0; b < B; b++) totalAnswer += promptLengths ? L - promptLengths[b] : 0;
  for (let b = 0; b < B; b++) {
    const first = promptLengths ? promptLengths[b] - 1 : 0; // first position whose target is trained
    if (first < 0 || first >= L - 1) throw new Error(`nextTokenBatch: row ${b} has prompt length ${first + 1}; it needs at least 1 token and an answer in L = ${L}`);
    const w = !promptLengths ? 1 / (L - 1) : normalization === 'llada' ? 1 / (L - 1 - first) : B / totalAnswer;
    for (let l = 0; l < L; l++) {
      const i = b * L + l;
      targets[i] = l + 1 < L ? ids[i + 1] : ids[i];
      if (l >= first && l < L - 1) weights[i] = w;
    }
  }
  return { inputIds: ids, targets, weights };
}
