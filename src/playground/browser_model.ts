/**
 * The playground's model in the browser: the same src/model forward pass and src/sampling samplers as `yarn sample`,
 * on tfjs's webgl backend where it works, else wasm (with the project's wasm kernel fixes, as in Node). The
 * checkpoint's files come from the playground server (server.ts) and are checked like `loadModel` checks them.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmKernels } from '../backend/wasm_kernels.ts';
import { decodeSafetensors } from '../checkpoint/safetensors_decode.ts';
import { storedTransposed, type ModelConfig } from '../model/config.ts';
import { forward, paramShapes, type Params } from '../model/model.ts';
import type { LogitsFn } from '../sampling/types.ts';
import { tokenizerFromJSON } from '../tokenizer/from_json.ts';
import type { Tokenizer } from '../tokenizer/types.ts';

export type BrowserBackend = 'webgl' | 'wasm' | 'cpu';

export interface BrowserModel {
  cfg: ModelConfig;
  tokenizer: Tokenizer;
  logitsFn: LogitsFn;
  backend: string;
}

async function fetchOk(url: string): Promise<Response> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${res.statusText}`);
  return res;
}

/**
 * The WebGL renderer's name when it is a software rasteriser (SwiftShader, llvmpipe), else null. Headless Chromium
 * without a GPU has one: tfjs-webgl on it sampled ~8x slower than wasm (README "See training").
 */
export function softwareWebgl(): string | null {
  const gl = document.createElement('canvas').getContext('webgl2') ?? document.createElement('canvas').getContext('webgl');
  if (!gl) return null;
  const ext = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = String(ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER));
  return /swiftshader|llvmpipe|software/i.test(renderer) ? renderer : null;
}

/**
 * Selects the backend: `wanted` if given, else webgl when it initialises on a real GPU, else wasm. The wasm binaries
 * are served under `wasmBase`. Returns the backend in use.
 */
export async function selectBackend(wanted: BrowserBackend | null, wasmBase: string): Promise<string> {
  setWasmPaths(wasmBase);
  registerWasmKernels();
  const order: BrowserBackend[] = wanted ? [wanted] : softwareWebgl() ? ['wasm'] : ['webgl', 'wasm'];
  for (const name of order) {
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        return tf.getBackend();
      }
    } catch {
      // try the next one
    }
  }
  throw new Error(`no tfjs backend could start (tried ${order.join(', ')})`);
}

/**
 * Loads config.json, tokenizer.json and model.safetensors from `base` (a URL ending in `/`). Linear weights are stored
 * [out, in] (PyTorch) and held [in, out] in memory, as `loadCheckpoint` does.
 */
export async function loadBrowserModel(base: string, backend: string): Promise<BrowserModel> {
  const [cfg, tokJson, bytes] = await Promise.all([
    fetchOk(`${base}config.json`).then((r) => r.json() as Promise<ModelConfig>),
    fetchOk(`${base}tokenizer.json`).then((r) => r.text()),
    fetchOk(`${base}model.safetensors`).then((r) => r.arrayBuffer()),
  ]);
  const tokenizer = tokenizerFromJSON(tokJson, 'checkpoint tokenizer.json');
  if (tokenizer.vocabSize !== cfg.vocab_size) throw new Error(`config.json vocab_size (${cfg.vocab_size}) differs from tokenizer.json's (${tokenizer.vocabSize})`);
  const { tensors } = decodeSafetensors(new Uint8Array(bytes), 'checkpoint model.safetensors');
  const params: Params = {};
  for (const [name, shape] of Object.entries(paramShapes(cfg))) {
    const t = tensors[name];
    if (!t) throw new Error(`model.safetensors: parameter ${name} is missing`);
    const stored = storedTransposed(name) ? [shape[1], shape[0]] : shape;
    if (t.shape.join() !== stored.join()) throw new Error(`model.safetensors: parameter ${name} expected shape [${stored}], got [${t.shape}]`);
    const value = tf.tidy(() => {
      const raw = tf.tensor(t.data, t.shape, 'float32');
      return storedTransposed(name) ? tf.transpose(raw) : raw;
    });
    params[name] = tf.variable(value, false, `playground/${name}`);
    value.dispose();
  }
  return { cfg, tokenizer, backend, logitsFn: (ids, mask) => forward(params, cfg, ids, mask) };
}
