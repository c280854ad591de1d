/**
 * Compute backend selection (`runtime.backend`). See shared/research/tfjs-backends.md:
 * - `tensorflow-gpu` / `tensorflow`: native libtensorflow through the optional packages @tensorflow/tfjs-node-gpu /
 *   @tensorflow/tfjs-node (both register the tfjs backend named `tensorflow`).
 * - `wasm`: XNNPACK, SIMD, one thread in Node; about 24× faster than `cpu` for training with the model's matmul helpers.
 * - `cpu`: pure JS reference backend; only when asked for explicitly.
 * `auto` tries tfjs-node-gpu, tfjs-node, then wasm, and never falls back to `cpu` silently: a failed
 * `tf.setBackend` returns false and would otherwise leave tfjs on `cpu`, 24× slower.
 */
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { ConfigError } from '../errors.ts';
import { registerWasmKernels } from './wasm_kernels.ts';

export type BackendName = 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

export interface BackendInfo {
  /** The backend in use: `tensorflow-gpu`, `tensorflow`, `wasm` or `cpu`. */
  backend: string;
  /** wasm only: whether the SIMD binary was loaded. */
  simd: boolean | null;
  /** wasm only: XNNPACK's thread count (1 in Node as shipped). */
  threads: number | null;
}

export type BackendLog = (msg: string, fields: object) => void;

const NODE_PACKAGES = { 'tensorflow-gpu': '@tensorflow/tfjs-node-gpu', tensorflow: '@tensorflow/tfjs-node' } as const;

/** What the last successful call set up, so repeated calls are cheap and consistent. */
let current: { requested: BackendName; info: BackendInfo } | null = null;

/**
 * Selects and initialises the tfjs backend; returns what is in use and reports it through `log`.
 * Idempotent: calling again with the same name (or `auto` after anything `auto` chose) keeps the current backend.
 * Throws a ConfigError naming `runtime.backend` when the requested backend cannot be used.
 */
export async function setupBackend(name: BackendName, log?: BackendLog): Promise<BackendInfo> {
  let info: BackendInfo;
  if (current && (current.requested === name || current.info.backend === name) && isActive(tfName(current.info.backend))) {
    info = current.info;
  } else if (name === 'auto') {
    info = await setupAuto(log);
  } else if (name === 'tensorflow-gpu' || name === 'tensorflow') {
    const err = await tryNode(name);
    if (err) throw new ConfigError(nodeMessage(name, err));
    info = { backend: name, simd: null, threads: null };
  } else if (name === 'wasm') {
    info = await setupWasm('runtime.backend: wasm');
  } else if (name === 'cpu') {
    await switchTo('cpu', 'runtime.backend: cpu');
    info = { backend: 'cpu', simd: null, threads: null };
  } else {
    throw new ConfigError(`runtime.backend: unknown backend '${String(name)}' (expected auto, tensorflow-gpu, tensorflow, wasm or cpu)`);
  }
  current = { requested: name, info };
  log?.('compute backend ready', { requested: name, ...info });
  return info;
}

async function setupAuto(log?: BackendLog): Promise<BackendInfo> {
  for (const name of ['tensorflow-gpu', 'tensorflow'] as const) {
    const err = await tryNode(name);
    if (!err) return { backend: name, simd: null, threads: null };
    log?.('backend not available, trying the next one', { backend: name, reason: firstLine(err) });
  }
  try {
    return await setupWasm('runtime.backend: auto');
  } catch (e) {
    throw new ConfigError(
      `runtime.backend: auto found neither @tensorflow/tfjs-node(-gpu) nor a working wasm backend (${firstLine(e)}). ` +
        `The pure-JS cpu backend is about 24x slower than wasm; set runtime.backend: cpu explicitly to use it anyway.`,
    );
  }
}

/** Loads a tfjs-node package and switches to its `tensorflow` backend. Returns the failure instead of throwing. */
async function tryNode(name: 'tensorflow-gpu' | 'tensorflow'): Promise<unknown> {
  const pkg: string = NODE_PACKAGES[name];
  try {
    await import(pkg);
  } catch (e) {
    return e;
  }
  if (tf.findBackendFactory('tensorflow') == null) {
    return new Error(`${pkg} loaded but registered no 'tensorflow' backend with this copy of @tensorflow/tfjs-core (version mismatch? ours is ${tf.version_core})`);
  }
  try {
    await switchTo('tensorflow', `runtime.backend: ${name}`);
  } catch (e) {
    return e;
  }
  return null;
}

function nodeMessage(name: 'tensorflow-gpu' | 'tensorflow', err: unknown): string {
  const pkg = NODE_PACKAGES[name];
  const missing = isModuleNotFound(err, pkg);
  const why = missing ? `${pkg} is not installed` : `${pkg} failed to load: ${firstLine(err)}`;
  return (
    `runtime.backend: ${name}: ${why}. Install it with \`corepack yarn add ${pkg}@${tf.version_core}\` ` +
    `(its install script downloads libtensorflow${name === 'tensorflow-gpu' ? ' and needs CUDA' : ''}), or use runtime.backend: wasm.`
  );
}

async function setupWasm(where: string): Promise<BackendInfo> {
  registerWasmKernels();
  await switchTo('wasm', where);
  registerWasmKernels();
  const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  return { backend: 'wasm', simd, threads: getThreadsCount() };
}

/** `tf.setBackend` returns false (and stays on the old backend) when initialisation fails: turn that into an error. */
async function switchTo(backend: string, where: string): Promise<void> {
  if (isActive(backend)) return;
  let ok: boolean;
  try {
    ok = await tf.setBackend(backend);
  } catch (e) {
    throw new ConfigError(`${where}: initialising the tfjs '${backend}' backend failed: ${firstLine(e)}`);
  }
  if (!ok || !isActive(backend)) {
    throw new ConfigError(`${where}: tf.setBackend('${backend}') failed; see the warning printed above`);
  }
}

/** After a failed initialisation tf.getBackend() still names the backend, but no instance exists. */
function isActive(backend: string): boolean {
  return tf.getBackend() === backend && tf.findBackend(backend) != null;
}

function tfName(backend: string): string {
  return backend === 'tensorflow-gpu' ? 'tensorflow' : backend;
}

function isModuleNotFound(err: unknown, pkg: string): boolean {
  const e = err as { code?: string; message?: string };
  return (e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND') && String(e.message).includes(pkg);
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0];
}
