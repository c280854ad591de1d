/**
 * The flow stream's parameters (L2D `FlowLlamaModel` / `FlowLlamaDecoderLayer`), named `flow.*`, shapes [in, out]:
 *   flow.token_embedder.{j}          wte row [d] -> d_f (flow_representation_num_layers linears, SiLU between)
 *   flow.to_lm_encoder.{j}           x_t / std_t [d_f] -> d (flow_to_lm_translation_depth linears, SiLU between)
 *   flow.timestep_embedder.{0,1}     sinusoid(t) [F] -> c -> c (SiLU between)
 *   flow.data_label_embedder         [K + 1, c] guidance labels (K = "no label"), only with K > 0
 *   flow.blocks.{i}.modulation_head.{0,1}   c -> c -> 6d: norm-weight offset, shift, gate before attention and MLP
 *   flow.blocks.{i}.{q_proj,attn_out,ff_proj,up_proj,ff_out}.weight   full copies of the frozen block's, or
 *   flow.blocks.{i}.{...}.lora_{A,B}                                  LoRA [in, r], [r, out] on the frozen weights
 *   flow.modulation_head.{0,1}       c -> c -> d: the output gate M(t); the stream adds (M(t) − M(0))·h_flow
 * Initialisation as L2D's `init_flow_weights`: xavier-uniform linears with zero bias; the timestep MLP and label
 * table normal(0, 0.02); every modulation head's last layer zero (adaLN-zero: the flow changes nothing at first);
 * LoRA A ~ normal(0, 1/r), B = 0. Draws come from Rng streams `l2d-init/<name>`, so they depend only on the seed.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../rng.ts';
import type { ModelConfig } from '../model/config.ts';
import { blockName, type Params } from '../model/model.ts';
import type { FlowOptions } from './config.ts';

/** The adapted linears of a block: flow name -> the frozen block's weight it copies or wraps. */
export const ADAPTED = ['q_proj', 'attn_out', 'ff_proj', 'up_proj', 'ff_out'] as const;

/** Widths resolved against the base model: d_f, the input MLP's hidden size h, the conditioning width c. */
export function flowWidths(f: FlowOptions, cfg: ModelConfig): { df: number; h: number; c: number } {
  return { df: f.flow_representation_dim, h: f.flow_to_lm_hidden_size ?? cfg.d_model, c: f.timestep_modulation_hidden_size ?? cfg.d_model };
}

/** The linears of an MLP of `depth` layers in -> hidden ... -> out. */
function mlpShapes(name: string, depth: number, input: number, hidden: number, out: number): Record<string, number[]> {
  const shapes: Record<string, number[]> = {};
  for (let j = 0; j < depth; j++) {
    const a = j === 0 ? input : hidden;
    const b = j === depth - 1 ? out : hidden;
    shapes[`${name}.${j}.weight`] = [a, b];
    shapes[`${name}.${j}.bias`] = [b];
  }
  return shapes;
}

/** Shape of every flow parameter. */
export function flowParamShapes(f: FlowOptions, cfg: ModelConfig): Record<string, number[]> {
  const { d_model: d, mlp_hidden: m } = cfg;
  const { df, h, c } = flowWidths(f, cfg);
  const shapes: Record<string, number[]> = {
    ...mlpShapes('flow.token_embedder', f.flow_representation_num_layers, d, df, df),
    ...mlpShapes('flow.to_lm_encoder', f.flow_to_lm_translation_depth, df, h, d),
    ...mlpShapes('flow.timestep_embedder', 2, f.timestep_modulation_freq_embedding_size, c, c),
  };
  if (f.guidance_modulation_num_classes > 0) shapes['flow.data_label_embedder.weight'] = [f.guidance_modulation_num_classes + 1, c];
  const io: Record<(typeof ADAPTED)[number], [number, number]> = { q_proj: [d, d], attn_out: [d, d], ff_proj: [d, m], up_proj: [d, m], ff_out: [m, d] };
  for (let i = 0; i < cfg.n_layers; i++) {
    Object.assign(shapes, mlpShapes(`flow.blocks.${i}.modulation_head`, 2, c, c, 6 * d));
    for (const w of ADAPTED) {
      const [a, b] = io[w];
      if (f.separate_flow_params_with_lora) {
        shapes[`flow.blocks.${i}.${w}.lora_A`] = [a, f.flow_lora_rank];
        shapes[`flow.blocks.${i}.${w}.lora_B`] = [f.flow_lora_rank, b];
      } else shapes[`flow.blocks.${i}.${w}.weight`] = [a, b];
    }
  }
  Object.assign(shapes, mlpShapes('flow.modulation_head', 2, c, c, d));
  return shapes;
}

/** Initial values of one parameter (see the file comment). `base` gives the frozen weights the full adapters copy. */
function initValues(name: string, shape: number[], seed: number, base: Params, f: FlowOptions): Float32Array | tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(size);
  const rng = new Rng(seed, `l2d-init/${name}`);
  const adapted = /^flow\.blocks\.(\d+)\.(\w+)\.weight$/.exec(name);
  if (adapted && (ADAPTED as readonly string[]).includes(adapted[2])) return base[blockName(Number(adapted[1]), adapted[2])];
  if (name.endsWith('.bias') || name.endsWith('.lora_B') || /modulation_head\.1\.weight$/.test(name)) return values; // zeros
  const std = name.endsWith('.lora_A') ? 1 / f.flow_lora_rank : /timestep_embedder|data_label_embedder/.test(name) ? 0.02 : null;
  if (std !== null) {
    for (let i = 0; i < size; i++) values[i] = std * rng.normal();
    return values;
  }
  const a = Math.sqrt(6 / (shape[0] + shape[1])); // xavier uniform
  for (let i = 0; i < size; i++) values[i] = a * (2 * rng.random() - 1);
  return values;
}

let instanceCounter = 0;

/** Fresh trainable flow parameters on top of the frozen base `base`. */
export function initFlowParams(f: FlowOptions, cfg: ModelConfig, base: Params, seed: number): Params {
  const tag = `l2d${instanceCounter++}/`;
  const params: Params = {};
  for (const [name, shape] of Object.entries(flowParamShapes(f, cfg))) {
    const v = initValues(name, shape, seed, base, f);
    const t = v instanceof Float32Array ? tf.tensor(v, shape, 'float32') : tf.mul(v, tf.scalar(1)); // a copy of a base weight
    params[name] = tf.variable(t, true, tag + name);
    t.dispose();
  }
  return params;
}
