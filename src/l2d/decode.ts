/**
 * L2D generation: the frozen causal LM decodes left to right with its KV cache (model/kv_cache.ts), and each next
 * token's logits come from solving the flow ODE for that position (L2D `nstep_inference` with
 * `only_last_token_prediction` and `precompute_non_flow_path`): the frozen pass runs once per token, then
 *   x₀ = σ·ε;  v(t, x) = (x̂₁(flowLogits(x, t)) − x) / (1 − t), integrated 0 → 1 (ode.ts);  logits = flowLogits(x₁, 1)
 * x̂₁ = e(argmax), e(a sample at `temperature`), or the expectation softmax(logits / T) · E (T = 0: argmax), over the
 * representation table E [V, d_f] computed once. With guidance w: v = w·v(label) + (1 − w)·v(no label).
 * steps = 0 returns the frozen LM's own logits (no flow pass). Plugs into sampling/autoregressive.ts.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';
import { headDim } from '../model/config.ts';
import { cachedAttention, decodeStep, disposeCache, prefill, ropeAt, type DecodeOutput, type KvCache } from '../model/kv_cache.ts';
import { lmHead } from '../model/model.ts';
import { opSeed, sampleTokens, type NextTokenModel } from '../sampling/index.ts';
import type { OdeOptions } from './config.ts';
import { flowLogits, representation, type FlowModel, type MainView } from './flow.ts';
import { flowVelocity, odeEvaluations, solveOde } from './ode.ts';

/** x̂₁ [N, d_f] from logits [N, V] and the representation table [V, d_f]. */
export function estimateX1(logits: tf.Tensor2D, table: tf.Tensor2D, ode: Pick<OdeOptions, 'x1_estimation' | 'temperature'>, rng: Rng): tf.Tensor2D {
  const T = ode.temperature;
  if (ode.x1_estimation === 'average' && T > 0) return tf.matMul(tf.softmax(tf.div(logits, T)), table) as tf.Tensor2D;
  const ids = ode.x1_estimation === 'sample' ? sampleTokens(logits, T, rng) : tf.argMax(logits, -1);
  return tf.gather(table, ids) as tf.Tensor2D;
}

export interface L2dDecoder extends NextTokenModel {
  /** Flow-stream passes so far (the ODE's velocity evaluations plus one final pass per token; guidance doubles the former). */
  flowPasses(): number;
}

export function l2dDecoder(m: FlowModel, ode: OdeOptions, rng: Rng): L2dDecoder {
  const { cfg } = m;
  const table = tf.tidy(() => representation(m, tf.range(0, cfg.vocab_size, 1, 'int32') as tf.Tensor1D)); // [V, d_f]
  const guided = m.f.guidance_modulation_num_classes > 0 && ode.guidance_parameter !== 1;
  let cache: KvCache | null = null;
  let mainCalls = 0;
  let flowCalls = 0;

  /** Logits for the last position after a frozen pass that returned `o` (its hidden [N, d] is freed). */
  const tokenLogits = (o: DecodeOutput): tf.Tensor2D => {
    cache = o.cache;
    mainCalls++;
    const c = o.cache;
    const N = o.hidden.shape[0];
    const out = tf.tidy(() => {
      if (ode.steps === 0) return lmHead(m.base, cfg, o.hidden);
      const view: MainView = {
        B: N, Lq: 1, hidden: o.hidden, rope: ropeAt(c.length - 1, headDim(cfg), cfg.rope_theta),
        attend: (i, q) => cachedAttention(q, c.keys[i], c.values[i], c.keyBias),
      };
      const label = m.f.guidance_modulation_num_classes > 0 ? tf.fill([N], ode.guidance_label, 'int32') as tf.Tensor1D : null;
      const noLabel = guided ? tf.fill([N], m.f.guidance_modulation_num_classes, 'int32') as tf.Tensor1D : null;
      const at = (x: tf.Tensor2D, t: number, lab: tf.Tensor1D | null) => {
        flowCalls++;
        return flowLogits(m, view, x, tf.fill([N], t) as tf.Tensor1D, lab);
      };
      const velocity = (t: number, x: tf.Tensor2D): tf.Tensor2D => {
        const v = flowVelocity(estimateX1(at(x, t, label), table, ode, rng), x, t);
        if (!guided) return v;
        const u = flowVelocity(estimateX1(at(x, t, noLabel), table, ode, rng), x, t);
        return tf.add(tf.mul(v, ode.guidance_parameter), tf.mul(u, 1 - ode.guidance_parameter)) as tf.Tensor2D;
      };
      const x0 = tf.mul(tf.randomNormal([N, m.f.flow_representation_dim], 0, 1, 'float32', opSeed(rng)), m.f.noise_rescaling) as tf.Tensor2D;
      return at(solveOde(ode.method, velocity, x0, ode.steps), 1, label);
    });
    o.hidden.dispose();
    return out;
  };
  return {
    start: (ids, mask) => tokenLogits(prefill(m.base, cfg, ids, mask)),
    next: (tokens) => tokenLogits(decodeStep(m.base, cfg, tokens, cache!)),
    end: () => {
      if (cache) disposeCache(cache);
      cache = null;
      table.dispose();
    },
    nfe: () => mainCalls + flowCalls,
    flowPasses: () => flowCalls,
  };
}

/** Flow passes per generated token: the ODE's evaluations (× 2 with guidance) plus the final one; 0 at 0 steps. */
export function flowPassesPerToken(ode: OdeOptions, guided: boolean): number {
  return ode.steps === 0 ? 0 : odeEvaluations(ode.method, ode.steps) * (guided ? 2 : 1) + 1;
}
