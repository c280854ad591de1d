/**
 * The flow stream (L2D `FlowLlamaModel.forward` with `full_dit_modulation`, `preserve_behavior_at_flow_start`,
 * `separate_flow_params`; samplers.md §4). Given the frozen causal LM's pass over the tokens (its keys and values per
 * layer and its last hidden state h) and, per position, a noisy representation x_t of the NEXT token at flow time t:
 *   c    = MLP(sinusoid(t)) (+ label embedding)                       conditioning [R, c]
 *   f    = MLP(x_t / std_t),  std_t = √((1 − t)²σ² + t²)             the stream's input [R, d]
 *   per layer i, with (w₁, s₁, g₁, w₂, s₂, g₂) = head_i(c):
 *     f += g₁ · o_proj'(Attn(RoPE(q_proj'(n₁)), K_i, V_i)),   n₁ = rms(f) · (attn_norm + w₁) + s₁
 *     f += g₂ · MLP'(n₂),                                     n₂ = rms(f) · (ff_norm + w₂) + s₂
 *   logits = lm_head(ln_f(h + (M(c) − M(c₀)) · f)),  c₀ the conditioning at t = 0
 * The stream has no keys or values of its own: its queries attend (causally) to the frozen stream's. The frozen
 * norm weights are reused with the modulation added; primed projections are the flow's own (params.ts). At t = 0 the
 * gate M(c) − M(c₀) is exactly 0, so the logits are exactly the base LM's.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../model/config.ts';
import { blockName, lmHead, PREFIX, type Params } from '../model/model.ts';
import { applyRope, matMul2d, oneHotF32, silu, type Rope } from '../model/ops.ts';
import type { FlowOptions } from './config.ts';

/** The frozen base and the trainable flow, with the flow's options. */
export interface FlowModel {
  base: Params;
  cfg: ModelConfig;
  flow: Params;
  f: FlowOptions;
}

/** What the stream reads of the frozen pass, for B rows of Lq query positions each (R = B·Lq flow rows). */
export interface MainView {
  B: number;
  Lq: number;
  /** [R, d]: the frozen stream's last hidden state (before ln_f) at the query positions. */
  hidden: tf.Tensor2D;
  /** RoPE rows of the query positions ([Lq, dh]). */
  rope: Rope;
  /** Layer i's attention of queries [B·H, Lq, dh] (RoPE applied) over the frozen keys and values -> [B·H, Lq, dh]. */
  attend(i: number, q: tf.Tensor3D): tf.Tensor3D;
}

/** x [R, in] through the linears `name.{j}` with SiLU between -> [R, out]. */
export function mlp(p: Params, name: string, depth: number, x: tf.Tensor2D): tf.Tensor2D {
  let y = x;
  for (let j = 0; j < depth; j++) {
    y = tf.add(matMul2d(y, p[`${name}.${j}.weight`] as tf.Tensor2D), p[`${name}.${j}.bias`]) as tf.Tensor2D;
    if (j < depth - 1) y = silu(y);
  }
  return y;
}

/** L2D's FrequencyEmbedder features: t [R] -> [R, F] = cat(cos(t·ω_k), sin(t·ω_k)), ω_k = 10000^(−k / (F/2)). */
export function timestepFeatures(t: tf.Tensor1D, F: number): tf.Tensor2D {
  const half = F / 2;
  const omega = tf.tensor2d(Float32Array.from({ length: half }, (_, k) => Math.exp((-Math.log(10000) * k) / half)), [1, half]);
  const args = tf.mul(tf.reshape(t, [-1, 1]), omega); // [R, F/2]
  return tf.concat([tf.cos(args), tf.sin(args)], 1) as tf.Tensor2D;
}

/** c [R, c] from t [R] and, with guidance classes, the labels [R] (K = no label). */
export function conditioning(m: FlowModel, t: tf.Tensor1D, labels: tf.Tensor1D | null): tf.Tensor2D {
  const c = mlp(m.flow, 'flow.timestep_embedder', 2, timestepFeatures(t, m.f.timestep_modulation_freq_embedding_size));
  if (m.f.guidance_modulation_num_classes === 0 || labels === null) return c;
  const table = m.flow['flow.data_label_embedder.weight'] as tf.Tensor2D; // [K + 1, c]
  return tf.add(c, matMul2d(oneHotF32(labels, table.shape[0]) as tf.Tensor2D, table)) as tf.Tensor2D;
}

/** e(y) = √d_f · normalize(MLP(wte[y])): ids int32 [R] -> [R, d_f]. With all V ids it is the representation table. */
export function representation(m: FlowModel, ids: tf.Tensor1D): tf.Tensor2D {
  const emb = tf.gather(m.base[`${PREFIX}wte.weight`], ids) as tf.Tensor2D; // [R, d], frozen
  const y = mlp(m.flow, 'flow.token_embedder', m.f.flow_representation_num_layers, emb);
  const norm = tf.maximum(tf.sqrt(tf.sum(tf.square(y), 1, true)), 1e-12); // F.normalize's eps
  return tf.mul(tf.div(y, norm), Math.sqrt(m.f.flow_representation_dim)) as tf.Tensor2D;
}

/** std_t = √((1 − t)²σ² + t²): the standard deviation of x_t per component (e(y) has unit mean square). t [R] -> [R, 1]. */
export function flowStd(t: tf.Tensor1D, sigma: number): tf.Tensor2D {
  const tc = tf.reshape(t, [-1, 1]);
  return tf.sqrt(tf.add(tf.mul(tf.square(tf.sub(1, tc)), sigma * sigma), tf.square(tc))) as tf.Tensor2D;
}

/** RMS-normalised rows, no weight: x · rsqrt(mean(x²) + eps). */
function rms(x: tf.Tensor2D, eps: number): tf.Tensor2D {
  return tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps)));
}

/** The flow's version of block i's linear `w`: its own copy, or the frozen weight plus LoRA (x A B · α / r). */
function adapted(m: FlowModel, i: number, w: string, x: tf.Tensor2D): tf.Tensor2D {
  const name = `flow.blocks.${i}.${w}`;
  if (!m.f.separate_flow_params_with_lora) return matMul2d(x, m.flow[`${name}.weight`] as tf.Tensor2D);
  const r = m.f.flow_lora_rank;
  const scale = (m.f.flow_lora_alpha ?? 2 * r) / r;
  const delta = matMul2d(matMul2d(x, m.flow[`${name}.lora_A`] as tf.Tensor2D), m.flow[`${name}.lora_B`] as tf.Tensor2D);
  return tf.add(matMul2d(x, m.base[blockName(i, w)] as tf.Tensor2D), tf.mul(delta, scale)) as tf.Tensor2D;
}

/** [B·Lq, d] <-> [B·H, Lq, dh] (head h of row b is slice b·H + h, as in model.ts). */
function toHeads(x: tf.Tensor2D, v: MainView, H: number): tf.Tensor3D {
  const dh = x.shape[1] / H;
  return tf.reshape(tf.transpose(tf.reshape(x, [v.B, v.Lq, H, dh]), [0, 2, 1, 3]), [v.B * H, v.Lq, dh]) as tf.Tensor3D;
}
function fromHeads(o: tf.Tensor3D, v: MainView, H: number): tf.Tensor2D {
  const dh = o.shape[2];
  return tf.reshape(tf.transpose(tf.reshape(o, [v.B, H, v.Lq, dh]), [0, 2, 1, 3]), [v.B * v.Lq, H * dh]) as tf.Tensor2D;
}

/**
 * Next-token logits [R, V] at flow state x [R, d_f] and times t [R] (labels [R] or null). Call inside a tidy or a
 * gradient function; gradients reach the flow parameters only.
 */
export function flowLogits(m: FlowModel, v: MainView, x: tf.Tensor2D, t: tf.Tensor1D, labels: tf.Tensor1D | null): tf.Tensor2D {
  const { cfg, base } = m;
  const c = conditioning(m, t, labels); // [R, c]
  const c0 = conditioning(m, tf.zerosLike(t), labels);
  let f = mlp(m.flow, 'flow.to_lm_encoder', m.f.flow_to_lm_translation_depth, tf.div(x, flowStd(t, m.f.noise_rescaling))); // [R, d]
  for (let i = 0; i < cfg.n_layers; i++) {
    const [w1, s1, g1, w2, s2, g2] = tf.split(mlp(m.flow, `flow.blocks.${i}.modulation_head`, 2, c), 6, 1) as tf.Tensor2D[]; // 6 × [R, d]
    const n1 = tf.add(tf.mul(rms(f, cfg.norm_eps), tf.add(base[blockName(i, 'attn_norm')], w1)), s1) as tf.Tensor2D;
    const q = applyRope(toHeads(adapted(m, i, 'q_proj', n1), v, cfg.n_heads), v.rope); // [B·H, Lq, dh]
    const o = fromHeads(v.attend(i, q), v, cfg.n_heads); // [R, d]
    f = tf.add(f, tf.mul(g1, adapted(m, i, 'attn_out', o))) as tf.Tensor2D;
    const n2 = tf.add(tf.mul(rms(f, cfg.norm_eps), tf.add(base[blockName(i, 'ff_norm')], w2)), s2) as tf.Tensor2D;
    const hidden = tf.mul(silu(adapted(m, i, 'ff_proj', n2)), adapted(m, i, 'up_proj', n2)); // [R, m]
    f = tf.add(f, tf.mul(g2, adapted(m, i, 'ff_out', hidden as tf.Tensor2D))) as tf.Tensor2D;
  }
  const gate = tf.sub(mlp(m.flow, 'flow.modulation_head', 2, c), mlp(m.flow, 'flow.modulation_head', 2, c0)); // [R, d]; 0 at t = 0
  return lmHead(base, cfg, tf.add(v.hidden, tf.mul(gate, f)) as tf.Tensor2D);
}
