/**
 * config.json in LLaDA's keys (the Hugging Face layout GSAI-ML/LLaDA-8B-Instruct publishes) <-> the project's
 * ModelConfig. The keys and their defaults are those of LLaDA's `configuration_llada.py` (`ModelConfig` dataclass,
 * which `LLaDAConfig` fills in for every key a config.json leaves out), and the model those keys build is the one of
 * `modeling_llada.py` (`LLaDALlamaBlock`). The project's model is exactly that model for one setting of the keys:
 *   block_type llama, activation_type silu (act(ff_proj(x)) · up_proj(x)), layer_norm_type rms with affine weights,
 *   rope true, no biases, no weight tying, n_kv_heads = n_heads, embedding_size = vocab_size, block_group_size 1.
 * Any other value would build a different network, so it is refused with one line naming the file and the key: the
 * import never computes silently different numbers. Keys that do not change what the network computes (dropouts,
 * initialisation, flash_attention, precision) are ignored; so are keys LLaDA's code does not read.
 */
import { ConfigError } from '../errors.ts';
import type { ModelConfig } from '../model/config.ts';

/** LLaDA's code on the Hugging Face Hub, which `trust_remote_code=True` loads for an exported directory. */
export const LLADA_CODE_REPO = 'GSAI-ML/LLaDA-8B-Instruct';

/** `configuration_llada.py` ModelConfig defaults, for the keys that decide the network (a config.json may omit any). */
export const LLADA_DEFAULTS = {
  d_model: 768,
  n_heads: 12,
  n_kv_heads: null,
  n_layers: 12,
  mlp_ratio: 4,
  mlp_hidden_size: null,
  activation_type: 'swiglu',
  block_type: 'sequential',
  block_group_size: 1,
  alibi: false,
  rope: false,
  multi_query_attention: null,
  attention_layer_norm: false,
  input_emb_norm: false,
  layer_norm_type: 'default',
  layer_norm_with_affine: true,
  rms_norm_eps: 1e-5,
  max_sequence_length: 1024,
  rope_theta: 10000,
  include_qkv_bias: false,
  include_bias: false,
  bias_for_layer_norm: null,
  scale_logits: false,
  vocab_size: 50257,
  embedding_size: 50304,
  weight_tying: true,
  eos_token_id: 50256,
  pad_token_id: 50256,
  mask_token_id: 50256,
} as const;

type HfConfig = Record<string, unknown>;

/** True when a config.json object is in LLaDA's keys (written by LLaDAConfig / this project's export). */
export function isHfConfig(json: HfConfig): boolean {
  return 'model_type' in json || 'architectures' in json || ('mlp_hidden_size' in json && !('mlp_hidden' in json));
}

/** The value `key` has for LLaDA's code: the file's, else the dataclass default. */
function value(json: HfConfig, key: keyof typeof LLADA_DEFAULTS): unknown {
  return key in json ? json[key] : LLADA_DEFAULTS[key];
}

/**
 * A LLaDA-keyed config.json -> the project's ModelConfig, or a ConfigError `<file>: <key> (<value>) ...` naming the
 * first key that asks for something the model does not implement. `init_seed` is 0 (it only seeds fresh weights).
 */
export function modelConfigFromHf(json: HfConfig, file: string): ModelConfig {
  const bad = (key: string, why: string): ConfigError =>
    new ConfigError(`${file}: ${key} (${JSON.stringify(key in json ? json[key] : (LLADA_DEFAULTS as Record<string, unknown>)[key])}${key in json ? '' : ', the default of configuration_llada.py'}) ${why}`);
  if ('model_type' in json && json.model_type !== 'llada') throw bad('model_type', "is not a LLaDA-style model (expected 'llada')");
  const int = (key: keyof typeof LLADA_DEFAULTS, min: number): number => {
    const v = value(json, key);
    if (!Number.isInteger(v) || (v as number) < min) throw bad(key, `must be an integer >= ${min}`);
    return v as number;
  };
  const num = (key: keyof typeof LLADA_DEFAULTS): number => {
    const v = value(json, key);
    if (typeof v !== 'number' || !(v > 0)) throw bad(key, 'must be a number > 0');
    return v;
  };
  const need = (key: keyof typeof LLADA_DEFAULTS, ok: (v: unknown) => boolean, why: string): void => {
    if (!ok(value(json, key))) throw bad(key, why);
  };
  const off = (v: unknown): boolean => v === false || v === null;

  need('block_type', (v) => v === 'llama', "is not supported: the model is LLaDA's 'llama' block (separate q/k/v_proj, ff_proj and up_proj)");
  need('activation_type', (v) => v === 'silu', "is not supported: the model's MLP is silu(ff_proj(x)) · up_proj(x), activation_type 'silu' in a llama block");
  need('layer_norm_type', (v) => v === 'rms', "is not supported: the model's norms are RMSNorm ('rms')");
  need('layer_norm_with_affine', (v) => v === true, 'must be true: the model has RMSNorm weights');
  need('rope', (v) => v === true, 'must be true: the model uses rotary position embeddings');
  need('alibi', off, 'is not supported (the model uses RoPE)');
  need('weight_tying', off, 'is not supported: the model has a separate LM head (model.transformer.ff_out)');
  need('include_bias', off, 'is not supported: the model has no biases');
  need('include_qkv_bias', off, 'is not supported: the model has no q/k/v biases');
  need('bias_for_layer_norm', off, 'is not supported: the model has no norm biases');
  need('attention_layer_norm', off, 'is not supported: the model has no q/k norms');
  need('input_emb_norm', off, 'is not supported: the model does not scale its embeddings');
  need('scale_logits', off, 'is not supported: the model does not scale its logits');
  need('block_group_size', (v) => v === 1, 'must be 1 (block groups rename the weights to block_groups.*)');

  const d = int('d_model', 1);
  const H = int('n_heads', 1);
  const kv = value(json, 'n_kv_heads');
  const mqa = value(json, 'multi_query_attention');
  if (kv !== null && kv !== H) throw bad('n_kv_heads', `must equal n_heads (${H}): grouped-query attention is not implemented`);
  if (mqa === true) throw bad('multi_query_attention', 'is not supported: the model has one key/value head per query head');
  if (d % H !== 0 || (d / H) % 2 !== 0) throw bad('d_model', `must be n_heads (${H}) times an even head size`);
  const V = int('vocab_size', 1);
  const E = value(json, 'embedding_size');
  if (E !== null && E !== V) throw bad('embedding_size', `must equal vocab_size (${V}) or be null: the model has one row per token`);
  const mlp = value(json, 'mlp_hidden_size') === null ? int('mlp_ratio', 1) * d : int('mlp_hidden_size', 1);
  return {
    vocab_size: V,
    d_model: d,
    n_layers: int('n_layers', 1),
    n_heads: H,
    mlp_hidden: mlp,
    max_seq_len: int('max_sequence_length', 1),
    rope_theta: num('rope_theta'),
    norm_eps: num('rms_norm_eps'),
    mask_token_id: int('mask_token_id', 0),
    eos_token_id: int('eos_token_id', 0),
    pad_token_id: int('pad_token_id', 0),
    init_seed: 0,
  };
}

/** torch_dtype names of the export dtypes. */
export const TORCH_DTYPE = { f32: 'float32', bf16: 'bfloat16', f16: 'float16' } as const;

/**
 * The project's ModelConfig -> config.json in LLaDA's keys, every key that decides the network written out (so no
 * default of configuration_llada.py applies), and `auto_map` pointing at LLaDA's code on the Hub, so
 * `AutoModel.from_pretrained(dir, trust_remote_code=True)` builds LLaDAModelLM.
 */
export function hfConfigFromModel(cfg: ModelConfig, dtype: keyof typeof TORCH_DTYPE, source = 'config.json'): Record<string, unknown> {
  // LLaDA's code attends bidirectionally: a causal (autoregressive) model would load there as a different network.
  if (cfg.causal) throw new ConfigError(`${source}: causal (true) cannot be exported in LLaDA's layout, whose model is bidirectional`);
  const code = (cls: string): string => `${LLADA_CODE_REPO}--${cls}`;
  return {
    architectures: ['LLaDAModelLM'],
    auto_map: {
      AutoConfig: code('configuration_llada.LLaDAConfig'),
      AutoModel: code('modeling_llada.LLaDAModelLM'),
      AutoModelForCausalLM: code('modeling_llada.LLaDAModelLM'),
    },
    model_type: 'llada',
    d_model: cfg.d_model,
    n_heads: cfg.n_heads,
    n_kv_heads: cfg.n_heads,
    n_layers: cfg.n_layers,
    mlp_hidden_size: cfg.mlp_hidden,
    activation_type: 'silu',
    block_type: 'llama',
    block_group_size: 1,
    alibi: false,
    alibi_bias_max: 8.0,
    rope: true,
    rope_full_precision: true,
    rope_theta: cfg.rope_theta,
    flash_attention: false,
    attention_dropout: 0.0,
    residual_dropout: 0.0,
    embedding_dropout: 0.0,
    multi_query_attention: null,
    attention_layer_norm: false,
    attention_layer_norm_with_affine: true,
    input_emb_norm: false,
    layer_norm_type: 'rms',
    layer_norm_with_affine: true,
    rms_norm_eps: cfg.norm_eps,
    max_sequence_length: cfg.max_seq_len,
    include_qkv_bias: false,
    include_bias: false,
    bias_for_layer_norm: false,
    scale_logits: false,
    vocab_size: cfg.vocab_size,
    embedding_size: cfg.vocab_size,
    weight_tying: false,
    // transformers' own name for the same thing (its PretrainedConfig default is true).
    tie_word_embeddings: false,
    eos_token_id: cfg.eos_token_id,
    pad_token_id: cfg.pad_token_id,
    mask_token_id: cfg.mask_token_id,
    init_device: 'meta',
    init_fn: 'mitchell',
    init_std: 0.02,
    init_cutoff_factor: null,
    precision: null,
    use_cache: false,
    torch_dtype: TORCH_DTYPE[dtype],
  };
}
