/**
 * Loading a Hugging Face-layout LLaDA-style directory (hf_layout.ts) as float32 tensors in the model's in-memory
 * layout. Streamed: one tensor's bytes are read from its shard (F32, F16 or BF16), widened to float32 and transposed
 * in one pass, handed to tfjs, and dropped before the next is read. Peak host memory is the float32 model plus one
 * tensor's raw bytes and its float32 copy (never a whole shard).
 */
import * as tf from '@tensorflow/tfjs';
import { DataError } from '../errors.ts';
import { storedTransposed, type ModelConfig } from '../model/config.ts';
import { toFloat32 } from './half.ts';
import { checkHfTokenizer, hfModelConfig, planHfWeights, readSpan, type TensorSpan } from './hf_layout.ts';

/** What loadCheckpoint returns for the project's own layout, minus the optimizer and trainer state. */
export interface HfCheckpoint {
  dir: string;
  config: Record<string, unknown>;
  /** float32, in-memory layout ([in, out] linear weights); the caller owns and disposes them. */
  params: Record<string, tf.Tensor>;
  tokenizerJson: string;
}

/** Called after each tensor is read: the bytes read from disk and the float32 bytes made from them. */
export type ReadObserver = (span: TensorSpan, floatBytes: number) => void;

/**
 * One tensor as float32 in memory layout: a stored [out, in] linear weight becomes [in, out] (the transpose is done
 * while widening, so there is one float32 copy, never two).
 */
function toMemoryLayout(span: TensorSpan, bytes: Uint8Array): { data: Float32Array; shape: number[] } {
  const n = span.shape.reduce((a, b) => a * b, 1);
  const flat = toFloat32(bytes, span.dtype, n);
  if (!storedTransposed(span.name)) return { data: flat, shape: span.shape };
  const [rows, cols] = span.shape; // stored [out, in] -> [in, out]
  const out = new Float32Array(n);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = flat[i * cols + j];
  return { data: out, shape: [cols, rows] };
}

/**
 * The weights of a Hugging Face-layout directory as float32 tensors keyed by LLaDA's names, in the model's parameter
 * order. Every header is checked before any tensor is read; on an error the tensors made so far are freed.
 */
export function loadHfWeights(dir: string, cfg: ModelConfig, onRead?: ReadObserver): Record<string, tf.Tensor> {
  const plan = planHfWeights(dir, cfg);
  const out: Record<string, tf.Tensor> = {};
  try {
    for (const span of plan) {
      const { data, shape } = toMemoryLayout(span, readSpan(span));
      onRead?.(span, data.byteLength);
      out[span.name] = tf.tensor(data, shape, 'float32');
    }
  } catch (e) {
    tf.dispose(Object.values(out));
    throw e;
  }
  return out;
}

/** A Hugging Face-layout checkpoint directory -> config (the project's ModelConfig keys), float32 weights, tokenizer. */
export function loadHfCheckpoint(dir: string, onRead?: ReadObserver): HfCheckpoint {
  const cfg = hfModelConfig(dir);
  if (cfg === null) throw new DataError(`${dir}/config.json: not in LLaDA's keys (no model_type / architectures)`);
  const tokenizerJson = checkHfTokenizer(dir, cfg);
  const params = loadHfWeights(dir, cfg, onRead);
  return { dir, config: cfg as unknown as Record<string, unknown>, params, tokenizerJson };
}
