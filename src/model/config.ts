/**
 * The model's knobs (LLaDA / OLMo names where they exist). A checkpoint's `config.json` holds exactly this object.
 * Token ids come from the tokenizer; the trainer fills them in, never a literal.
 */
export interface ModelConfig {
  vocab_size: number;
  d_model: number;
  n_layers: number;
  n_heads: number;
  /** SwiGLU hidden width (LLaDA's `mlp_hidden_size`). */
  mlp_hidden: number;
  max_seq_len: number;
  rope_theta: number;
  norm_eps: number;
  mask_token_id: number;
  eos_token_id: number;
  pad_token_id: number;
  /** Seed of the weight initialisation. */
  init_seed: number;
  /**
   * true: an autoregressive (causal) LM: each position attends to itself and the positions before it and predicts the
   * next token. Absent (or false): LLaDA's bidirectional masked-diffusion model. Only causal checkpoints write it.
   */
  causal?: boolean;
}

export function headDim(cfg: ModelConfig): number {
  return cfg.d_model / cfg.n_heads;
}

/**
 * Parameter names follow LLaDA's Hugging Face checkpoints:
 *   model.transformer.wte.weight                         [V, d]   token embedding
 *   model.transformer.blocks.{i}.attn_norm.weight        [d]
 *   model.transformer.blocks.{i}.{q,k,v}_proj.weight     linear d -> d
 *   model.transformer.blocks.{i}.attn_out.weight         linear d -> d
 *   model.transformer.blocks.{i}.ff_norm.weight          [d]
 *   model.transformer.blocks.{i}.{ff_proj,up_proj}.weight linear d -> mlp_hidden (ff_proj is the SiLU-gated one)
 *   model.transformer.blocks.{i}.ff_out.weight           linear mlp_hidden -> d (the MLP down-projection)
 *   model.transformer.ln_f.weight                        [d]
 *   model.transformer.ff_out.weight                      linear d -> V (the LM head; untied)
 * In memory a linear weight is stored [in, out] so every matmul is `x @ W` on tfjs-wasm's fast non-transposed path;
 * checkpoints store PyTorch's [out, in]. `storedTransposed` tells which tensors to transpose on save/load.
 */
export function storedTransposed(name: string): boolean {
  return /\.(q_proj|k_proj|v_proj|attn_out|ff_proj|up_proj|ff_out)\.weight$/.test(name);
}
