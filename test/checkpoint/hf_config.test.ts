import { describe, expect, it } from 'vitest';
import { hfConfigFromModel, isHfConfig, modelConfigFromHf } from '../../src/checkpoint/hf_config.ts';
import { ConfigError } from '../../src/errors.ts';
import type { ModelConfig } from '../../src/model/config.ts';

/** GSAI-ML/LLaDA-8B-Instruct's config.json as published (the keys that matter; auto_map and the rest left out). */
const LLADA_8B = {
  activation_type: 'silu', alibi: false, alibi_bias_max: 8.0, architectures: ['LLaDAModelLM'], attention_dropout: 0.0,
  attention_layer_norm: false, attention_layer_norm_with_affine: true, bias_for_layer_norm: false, block_group_size: 1,
  block_type: 'llama', d_model: 4096, embedding_dropout: 0.0, embedding_size: 126464, eos_token_id: 126081,
  flash_attention: false, include_bias: false, include_qkv_bias: false, init_cutoff_factor: null, init_device: 'meta',
  init_fn: 'mitchell', init_std: 0.02, input_emb_norm: false, layer_norm_type: 'rms', layer_norm_with_affine: true,
  mask_token_id: 126336, max_sequence_length: 4096, mlp_hidden_size: 12288, mlp_ratio: 4, model_type: 'llada',
  multi_query_attention: null, n_heads: 32, n_kv_heads: 32, n_layers: 32, pad_token_id: 126081, precision: 'amp_bf16',
  residual_dropout: 0.0, rms_norm_eps: 1e-5, rope: true, rope_full_precision: true, rope_theta: 500000.0,
  scale_logits: false, use_cache: false, vocab_size: 126464, weight_tying: false,
};

const tiny: ModelConfig = {
  vocab_size: 14, d_model: 16, n_layers: 2, n_heads: 2, mlp_hidden: 40, max_seq_len: 24, rope_theta: 10000,
  norm_eps: 1e-6, mask_token_id: 2, eos_token_id: 1, pad_token_id: 0, init_seed: 0,
};

describe('modelConfigFromHf', () => {
  it("maps LLaDA-8B-Instruct's config.json onto the model's knobs", () => {
    expect(isHfConfig(LLADA_8B)).toBe(true);
    expect(modelConfigFromHf(LLADA_8B, 'config.json')).toEqual({
      vocab_size: 126464, d_model: 4096, n_layers: 32, n_heads: 32, mlp_hidden: 12288, max_seq_len: 4096, rope_theta: 500000,
      norm_eps: 1e-5, mask_token_id: 126336, eos_token_id: 126081, pad_token_id: 126081, init_seed: 0,
    });
  });

  it("tells the project's own config.json apart", () => {
    expect(isHfConfig(tiny as unknown as Record<string, unknown>)).toBe(false);
  });

  it('round trip: the exported config.json maps back to the same model (init_seed aside)', () => {
    const json = hfConfigFromModel({ ...tiny, init_seed: 7 }, 'bf16');
    expect(json.torch_dtype).toBe('bfloat16');
    expect(json.auto_map).toEqual({
      AutoConfig: 'GSAI-ML/LLaDA-8B-Instruct--configuration_llada.LLaDAConfig',
      AutoModel: 'GSAI-ML/LLaDA-8B-Instruct--modeling_llada.LLaDAModelLM',
      AutoModelForCausalLM: 'GSAI-ML/LLaDA-8B-Instruct--modeling_llada.LLaDAModelLM',
    });
    expect(modelConfigFromHf(JSON.parse(JSON.stringify(json)), 'x')).toEqual(tiny);
  });

  it('mlp_hidden_size null falls back to mlp_ratio · d_model, as configuration_llada.py does', () => {
    expect(modelConfigFromHf({ ...LLADA_8B, mlp_hidden_size: null, mlp_ratio: 3 }, 'c').mlp_hidden).toBe(3 * 4096);
  });

  // Each unsupported setting is refused with one line naming the file and the key; a key left out takes
  // configuration_llada.py's default, which is named as such.
  const refusals: [string, Record<string, unknown>, RegExp][] = [
    ['GQA', { n_kv_heads: 8 }, /^c\.json: n_kv_heads \(8\) must equal n_heads \(32\): grouped-query attention is not implemented$/],
    ['multi-query', { n_kv_heads: null, multi_query_attention: true }, /multi_query_attention \(true\) is not supported/],
    ['weight tying', { weight_tying: true }, /weight_tying \(true\) is not supported: the model has a separate LM head/],
    ['weight tying by default', { weight_tying: undefined }, /weight_tying \(true, the default of configuration_llada\.py\) is not supported/],
    ['biases', { include_bias: true }, /include_bias \(true\) is not supported: the model has no biases/],
    ['qkv biases', { include_qkv_bias: true }, /include_qkv_bias \(true\)/],
    ['alibi', { alibi: true }, /alibi \(true\) is not supported/],
    ['no rope', { rope: false }, /rope \(false\) must be true/],
    ['layer norm', { layer_norm_type: 'default' }, /layer_norm_type \("default"\) is not supported: the model's norms are RMSNorm/],
    ['gemma norm', { layer_norm_type: 'gemma_rms' }, /layer_norm_type \("gemma_rms"\)/],
    ['swiglu', { activation_type: 'swiglu' }, /activation_type \("swiglu"\) is not supported/],
    ['sequential block', { block_type: 'sequential' }, /block_type \("sequential"\) is not supported/],
    ['qk norm', { attention_layer_norm: true }, /attention_layer_norm \(true\)/],
    ['block groups', { block_group_size: 2 }, /block_group_size \(2\) must be 1/],
    ['padded embedding', { embedding_size: 126592 }, /embedding_size \(126592\) must equal vocab_size \(126464\)/],
    ['scaled logits', { scale_logits: true }, /scale_logits \(true\)/],
    ['odd head size', { d_model: 4096 + 32 }, /d_model \(4128\) must be n_heads \(32\) times an even head size/],
    ['another model', { model_type: 'llama' }, /model_type \("llama"\) is not a LLaDA-style model/],
    ['a size that is not an integer', { n_layers: '32' }, /n_layers \("32"\) must be an integer >= 1/],
  ];
  it.each(refusals)('refuses %s with one line naming the key', (_, change, message) => {
    const json: Record<string, unknown> = { ...LLADA_8B, ...change };
    for (const [k, v] of Object.entries(change)) if (v === undefined) delete json[k];
    expect(() => modelConfigFromHf(json, 'c.json')).toThrow(ConfigError);
    expect(() => modelConfigFromHf(json, 'c.json')).toThrow(message);
    try {
      modelConfigFromHf(json, 'c.json');
    } catch (e) {
      expect((e as Error).message).not.toContain('\n');
    }
  });

  it('ignores what does not change the network: dropouts, initialisation, precision, unknown keys', () => {
    const json = { ...LLADA_8B, attention_dropout: 0.1, residual_dropout: 0.1, init_fn: 'normal', precision: 'fp32', flash_attention: true, something_new: 1 };
    expect(modelConfigFromHf(json, 'c').d_model).toBe(4096);
  });
});

describe('hfConfigFromModel', () => {
  it('refuses a causal model, which LLaDA\'s bidirectional code would load as a different network', () => {
    expect(() => hfConfigFromModel({ ...tiny, causal: true } as ModelConfig, 'f32')).toThrow(/causal \(true\) cannot be exported/);
  });
});
