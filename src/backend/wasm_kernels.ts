/**
 * Kernel fixes for tfjs-backend-wasm 4.22.0 (shared/research/tfjs-backends.md §2–3), registered by `registerWasmKernels`:
 *
 * - `BatchMatMul`: XNNPACK serves only batch-1, non-transposed products; anything else runs a naive loop 5–10×
 *   slower. The replacement transposes operands explicitly (JS, below) and runs each batch slice on the fast path
 *   through zero-copy views into the wasm heap, so batched and transposed matmuls (attention, tf's own gradients) are fast.
 * - `Slice`: the shipped kernel copies the WHOLE input out of the heap (`readSync`) on every call; this one copies
 *   only the requested region.
 * - `Transpose`: the shipped kernel runs ~4–10 ns/element; a tiled JS copy on heap views runs ~3.
 * - `Identity` (used by `clone`, hence by every tensor saved for backprop) and same-dtype `Cast`: share the buffer
 *   like the cpu backend instead of copying it. `Cast` to bool is also fixed (shipped: int32 3 -> 3, -1 -> 255).
 * - `GatherV2` (embedding lookup): one memmove per row instead of the shipped kernel's ~9 ms per 2,048 rows.
 * - `UnsortedSegmentSum`: missing on wasm, and it is the gradient of `tf.gather` (embedding lookups).
 *
 * They use `BackendWasm` internals (`makeOutput`, `typedArrayFromHeap`, `dataIdMap`, `wasm.cwrap`, `wasm.tfjs`);
 * test/backend/wasm_kernels.test.ts checks them against cpu: rerun it whenever tfjs is upgraded.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

type TypedArray = Float32Array | Int32Array | Uint8Array;
type KernelArgs = Parameters<tf.KernelFunc>[0];
type Info = tf.TensorInfo;

/** Marks kernel functions registered here, so a second call (or a second copy of this module) does nothing. */
const MARK = Symbol.for('diffusion-rl-tfjs/wasm-kernel');

function view(backend: BackendWasm, t: Info): TypedArray {
  return backend.typedArrayFromHeap(t) as TypedArray;
}

/** Drops shape-1 axes and merges input axes that stay adjacent under `perm`: [2, 3, 4] by [0, 2, 1] stays; [2, 3, 4] by [2, 0, 1] -> [6, 4] by [1, 0]. */
function collapse(shape: number[], perm: number[]): [number[], number[]] {
  const kept = shape.map((_, a) => a).filter((a) => shape[a] !== 1);
  const renumber = new Map(kept.map((a, i) => [a, i]));
  const s1 = kept.map((a) => shape[a]);
  const p1 = perm.filter((a) => shape[a] !== 1).map((a) => renumber.get(a)!);
  const groups: number[][] = [];
  for (const a of p1) {
    const g = groups[groups.length - 1];
    if (g && g[g.length - 1] === a - 1) g.push(a);
    else groups.push([a]);
  }
  const order = [...groups].sort((x, y) => x[0] - y[0]);
  return [order.map((g) => g.reduce((n, a) => n * s1[a], 1)), groups.map((g) => order.indexOf(g))];
}

type Copy = (o: number, s: number, n: number) => void;

/**
 * dst[o..o+n) = src[s..s+n). Heap views share one buffer, where copyWithin is a memmove with no allocation
 * (subarray allocates an object per call, and a JS loop is slower for runs longer than a few elements).
 */
function copier(src: TypedArray, dst: TypedArray): Copy {
  if (src.buffer === dst.buffer && src.constructor === dst.constructor) {
    const Ctor = src.constructor as new (b: ArrayBufferLike) => TypedArray;
    const all = new Ctor(src.buffer);
    const so = src.byteOffset / src.BYTES_PER_ELEMENT;
    const d0 = dst.byteOffset / dst.BYTES_PER_ELEMENT;
    return (o, s, n) => {
      all.copyWithin(d0 + o, so + s, so + s + n);
    };
  }
  return (o, s, n) => {
    for (let i = 0; i < n; i++) dst[o + i] = src[s + i];
  };
}

/** dst = src transposed by `perm` (any rank and perm; fast paths for a kept last axis and for [.., R, C] swaps). */
export function transposeInto(src: TypedArray, dst: TypedArray, shape0: number[], perm0: number[]): void {
  const [shape, perm] = collapse(shape0, perm0);
  const r = shape.length;
  if (r <= 1) return dst.set(src.subarray(0, dst.length));
  const strides = tf.util.computeStrides(shape).concat([1]);
  if (r === 2 || (r === 3 && perm[0] === 0 && perm[1] === 2)) {
    const [nb, R, C] = r === 2 ? [1, shape[0], shape[1]] : shape;
    return tiled(src, dst, nb, R, C);
  }
  const run = perm[r - 1] === r - 1 ? shape[r - 1] : 1; // contiguous elements per copy
  const outer = run === 1 ? perm : perm.slice(0, -1);
  const copy = copier(src, dst);
  if (outer.length > 3) return copyRuns(copy, dst.length, shape, perm, strides, run);
  const pad = 3 - outer.length; // walk the output with three nested loops
  const n = [...Array(pad).fill(1), ...outer.map((a) => shape[a])];
  const st = [...Array(pad).fill(0), ...outer.map((a) => strides[a])];
  let o = 0;
  for (let i = 0; i < n[0]; i++) {
    for (let j = 0; j < n[1]; j++) {
      let s = i * st[0] + j * st[1];
      for (let k = 0; k < n[2]; k++, s += st[2], o += run) copy(o, s, run);
    }
  }
}

/** General case: copies runs of `run` elements, walking the output index with an odometer. */
function copyRuns(copy: Copy, size: number, shape: number[], perm: number[], strides: number[], run: number): void {
  const outer = run === 1 ? perm.length : perm.length - 1;
  const outShape = perm.slice(0, outer).map((a) => shape[a]);
  const srcStride = perm.slice(0, outer).map((a) => strides[a]);
  const idx = new Array(outer).fill(0);
  let s = 0;
  for (let o = 0; o < size; o += run) {
    copy(o, s, run);
    for (let d = outer - 1; d >= 0; d--) {
      s += srcStride[d];
      if (++idx[d] < outShape[d]) break;
      s -= srcStride[d] * outShape[d];
      idx[d] = 0;
    }
  }
}

/** nb independent [R, C] -> [C, R] transposes: 32×32 tiles of 4×4 register blocks (~0.9 ns/element vs ~2 plain). */
function tiled(src: TypedArray, dst: TypedArray, nb: number, R: number, C: number): void {
  const T = 32;
  const R4 = R - (R % 4);
  const C4 = C - (C % 4);
  for (let b = 0; b < nb; b++) {
    const o = b * R * C;
    for (let i0 = 0; i0 < R4; i0 += T) {
      const i1 = Math.min(i0 + T, R4);
      for (let j0 = 0; j0 < C4; j0 += T) {
        const j1 = Math.min(j0 + T, C4);
        for (let i = i0; i < i1; i += 4) {
          const r0 = o + i * C;
          const r1 = r0 + C;
          const r2 = r1 + C;
          const r3 = r2 + C;
          for (let j = j0; j < j1; j += 4) {
            const a00 = src[r0 + j], a01 = src[r0 + j + 1], a02 = src[r0 + j + 2], a03 = src[r0 + j + 3];
            const a10 = src[r1 + j], a11 = src[r1 + j + 1], a12 = src[r1 + j + 2], a13 = src[r1 + j + 3];
            const a20 = src[r2 + j], a21 = src[r2 + j + 1], a22 = src[r2 + j + 2], a23 = src[r2 + j + 3];
            const a30 = src[r3 + j], a31 = src[r3 + j + 1], a32 = src[r3 + j + 2], a33 = src[r3 + j + 3];
            const d0 = o + j * R + i;
            const d1 = d0 + R;
            const d2 = d1 + R;
            const d3 = d2 + R;
            dst[d0] = a00; dst[d0 + 1] = a10; dst[d0 + 2] = a20; dst[d0 + 3] = a30;
            dst[d1] = a01; dst[d1 + 1] = a11; dst[d1 + 2] = a21; dst[d1 + 3] = a31;
            dst[d2] = a02; dst[d2 + 1] = a12; dst[d2 + 2] = a22; dst[d2 + 3] = a32;
            dst[d3] = a03; dst[d3 + 1] = a13; dst[d3 + 2] = a23; dst[d3 + 3] = a33;
          }
        }
      }
    }
    for (let i = 0; i < R; i++) {
      for (let j = i < R4 ? C4 : 0; j < C; j++) dst[o + j * R + i] = src[o + i * C + j]; // ragged edges
    }
  }
}

function transposeKernel(orig: tf.KernelConfig): tf.KernelFunc {
  return (args: KernelArgs) => {
    const x = args.inputs.x as Info;
    const { perm } = args.attrs as unknown as { perm: number[] };
    const backend = args.backend as BackendWasm;
    if (x.dtype === 'string') return orig.kernelFunc(args);
    const out = backend.makeOutput(perm.map((a) => x.shape[a]), x.dtype);
    transposeInto(view(backend, x), view(backend, out), x.shape, perm);
    return out;
  };
}

function sliceKernel(orig: tf.KernelConfig): tf.KernelFunc {
  return (args: KernelArgs) => {
    const x = args.inputs.x as Info;
    const { begin, size } = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
    const backend = args.backend as BackendWasm;
    if (x.dtype === 'string') return orig.kernelFunc(args);
    const [b, sz] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
    const out = backend.makeOutput(sz, x.dtype); // allocate first: it may grow (and detach) the heap
    const src = view(backend, x);
    const dst = view(backend, out);
    const strides = tf.util.computeStrides(x.shape).concat([1]);
    if (tf.slice_util.isSliceContinous(x.shape, b, sz)) {
      const off = tf.slice_util.computeFlatOffset(b, tf.util.computeStrides(x.shape));
      dst.set(src.subarray(off, off + dst.length));
      return out;
    }
    const r = x.shape.length;
    const run = sz[r - 1];
    const copy = copier(src, dst);
    const idx = new Array(r - 1).fill(0);
    let s = b.reduce((acc, bi, i) => acc + bi * strides[i], 0);
    for (let o = 0; o < dst.length; o += run) {
      copy(o, s, run);
      for (let d = r - 2; d >= 0; d--) {
        s += strides[d];
        if (++idx[d] < sz[d]) break;
        s -= strides[d] * sz[d];
        idx[d] = 0;
      }
    }
    return out;
  };
}

/**
 * Identity (used by clone, hence by every tensor saved for backprop) and same-dtype Cast (tf's Multiply gradient
 * casts both operands to float32): share the buffer, as the cpu backend and wasm's own Reshape do, instead of
 * copying. Also fixes Cast to bool, which the shipped kernel gets wrong for values other than 0 and 1.
 */
function shareKernel(orig: tf.KernelConfig): tf.KernelFunc {
  return (args: KernelArgs) => {
    const x = args.inputs.x as Info;
    const dtype = (args.attrs as { dtype?: tf.DataType } | undefined)?.dtype ?? x.dtype;
    const backend = args.backend as BackendWasm;
    if (dtype === 'bool' && x.dtype !== 'bool' && x.dtype !== 'string') {
      // the shipped Cast copies int32 3 into a Uint8Array as 3 and -1 as 255: bool must be x != 0
      const out = backend.makeOutput(x.shape, 'bool');
      const src = view(backend, x);
      const dst = view(backend, out);
      for (let i = 0; i < src.length; i++) dst[i] = src[i] !== 0 ? 1 : 0;
      return out;
    }
    if (x.dtype === 'string' || dtype !== x.dtype) return orig.kernelFunc(args);
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

/** GatherV2 without batch dims: one contiguous copy per (outer, index) pair (the shipped kernel is ~40× slower). */
function gatherKernel(orig: tf.KernelConfig): tf.KernelFunc {
  return (args: KernelArgs) => {
    const x = args.inputs.x as Info;
    const indices = args.inputs.indices as Info;
    const { axis, batchDims } = args.attrs as unknown as { axis: number; batchDims: number };
    const backend = args.backend as BackendWasm;
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    if (batchDims || x.dtype === 'string' || indices.dtype !== 'int32') return orig.kernelFunc(args);
    const ids = view(backend, indices).slice(); // a copy: makeOutput below may detach heap views
    const n = x.shape[ax];
    if (ids.some((i) => i < 0 || i >= n)) return orig.kernelFunc(args); // let the original report it
    const outer = tf.util.sizeFromShape(x.shape.slice(0, ax));
    const inner = tf.util.sizeFromShape(x.shape.slice(ax + 1));
    const out = backend.makeOutput([...x.shape.slice(0, ax), ...indices.shape, ...x.shape.slice(ax + 1)], x.dtype);
    const copy = copier(view(backend, x), view(backend, out));
    let o = 0;
    for (let b = 0; b < outer; b++) {
      for (let j = 0; j < ids.length; j++, o += inner) copy(o, (b * n + ids[j]) * inner, inner);
    }
    return out;
  };
}

/** out[s, ...] = sum of x[i, ...] over i with segmentIds[i] = s; ids outside [0, numSegments) are dropped (as in TF). */
function unsortedSegmentSum(args: KernelArgs): Info {
  const x = args.inputs.x as Info;
  const segmentIds = args.inputs.segmentIds as Info;
  const { numSegments } = args.attrs as unknown as { numSegments: number };
  const backend = args.backend as BackendWasm;
  if (segmentIds.dtype !== 'int32') throw new Error(`UnsortedSegmentSum (wasm): segmentIds must be int32, got ${segmentIds.dtype}`);
  const innerShape = x.shape.slice(segmentIds.shape.length);
  const inner = tf.util.sizeFromShape(innerShape);
  const out = backend.makeOutput([numSegments, ...innerShape], x.dtype); // allocate before taking heap views
  const ov = view(backend, out);
  const xv = view(backend, x);
  const ids = view(backend, segmentIds);
  ov.fill(0);
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    for (let j = 0, o = s * inner, xi = i * inner; j < inner; j++) ov[o + j] += xv[xi + j];
  }
  return out;
}

/** The emscripten module behind BackendWasm (only what the matmul below needs). */
interface WasmModule {
  cwrap(name: string, ret: null, argTypes: string[]): (...args: unknown[]) => void;
  tfjs: { disposeData(id: number): void };
}
const xnnMatMul = new WeakMap<object, (...args: unknown[]) => void>();

function shapeBytes(shape: number[]): Uint8Array {
  return new Uint8Array(new Int32Array(shape).buffer);
}

/**
 * BatchMatMul that keeps XNNPACK's fast path for batched and transposed products: transposed operands are
 * materialised (JS tiled copy), then each batch slice is multiplied through zero-copy heap views registered as
 * temporary tensors (registered with the C++ side, released without freeing the shared memory).
 */
function batchMatMulKernel(orig: tf.KernelConfig): tf.KernelFunc {
  return (args: KernelArgs) => {
    const a = args.inputs.a as Info;
    const b = args.inputs.b as Info;
    const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const backend = args.backend as BackendWasm;
    const ra = a.shape.length;
    const rb = b.shape.length;
    const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
    const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
    const [M, K] = transposeA ? [a.shape[ra - 1], a.shape[ra - 2]] : [a.shape[ra - 2], a.shape[ra - 1]];
    const [K2, N] = transposeB ? [b.shape[rb - 1], b.shape[rb - 2]] : [b.shape[rb - 2], b.shape[rb - 1]];
    const plain = !transposeA && !transposeB && batchA === 1 && batchB === 1;
    if (plain || a.dtype !== 'float32' || b.dtype !== 'float32' || K !== K2 || M * K * N === 0) return orig.kernelFunc(args);
    const outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    const batch = tf.util.sizeFromShape(outer);
    if ((batchA !== 1 && batchA !== batch) || (batchB !== 1 && batchB !== batch)) return orig.kernelFunc(args); // rare broadcasts
    const wasm = (backend as unknown as { wasm: WasmModule }).wasm;
    let fn = xnnMatMul.get(wasm);
    if (!fn) xnnMatMul.set(wasm, (fn = wasm.cwrap('BatchMatMul', null, ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number'])));
    const transposed = (x: Info, nb: number, rows: number, cols: number): Info => {
      const t = backend.makeOutput([nb, cols, rows], 'float32');
      transposeInto(view(backend, x), view(backend, t), [nb, rows, cols], [0, 2, 1]);
      return t;
    };
    const at = transposeA ? transposed(a, batchA, K, M) : a; // [batchA, M, K]
    const bt = transposeB ? transposed(b, batchB, N, K) : b; // [batchB, K, N]
    const out = backend.makeOutput([...outer, M, N], 'float32');
    const views: Info[] = [];
    const viewAt = (t: Info, shape: number[], elemOffset: number): number => {
      const v = backend.makeOutput(shape, 'float32', backend.getMemoryOffset(t.dataId) + 4 * elemOffset);
      views.push(v);
      return backend.dataIdMap.get(v.dataId)!.id;
    };
    const mul = (rows: number, ai: number, bi: number, oi: number): void => {
      fn!(viewAt(at, [1, rows, K], ai), shapeBytes([1, rows, K]), 3, viewAt(bt, [1, K, N], bi), shapeBytes([1, K, N]), 3, 0, 0, viewAt(out, [1, rows, N], oi));
      for (const v of views.splice(0)) {
        wasm.tfjs.disposeData(backend.dataIdMap.get(v.dataId)!.id); // unregister only: the memory belongs to at/bt/out
        backend.dataIdMap.delete(v.dataId);
      }
    };
    if (batchB === 1) mul(batch * M, 0, 0, 0); // shared right operand: one [batch·M, K] × [K, N] product
    else for (let i = 0; i < batch; i++) mul(M, batchA === 1 ? 0 : i * M * K, i * K * N, i * M * N);
    if (at !== a) backend.disposeData(at.dataId);
    if (bt !== b) backend.disposeData(bt.dataId);
    return out;
  };
}

function replace(name: string, make: (orig: tf.KernelConfig) => tf.KernelFunc): void {
  const orig = tf.getKernel(name, 'wasm');
  if (orig == null) throw new Error(`registerWasmKernels: the wasm ${name} kernel is not registered; is @tensorflow/tfjs-backend-wasm loaded?`);
  if ((orig.kernelFunc as unknown as Record<symbol, boolean>)[MARK]) return;
  const fn = make(orig);
  (fn as unknown as Record<symbol, boolean>)[MARK] = true;
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ ...orig, kernelFunc: fn }); // keeps setupFunc: the originals still get their wasm bindings
}

/**
 * Registers the wasm kernel fixes. Idempotent; call it before or after `tf.setBackend('wasm')` (importing
 * `@tensorflow/tfjs-backend-wasm` registers its kernels; initialising the backend does not re-register them).
 */
export function registerWasmKernels(): void {
  replace('Slice', sliceKernel);
  replace('Transpose', transposeKernel);
  replace('Identity', shareKernel);
  replace('Cast', shareKernel);
  replace('GatherV2', gatherKernel);
  replace('BatchMatMul', batchMatMulKernel);
  if (tf.getKernel('UnsortedSegmentSum', 'wasm') == null) {
    const fn = unsortedSegmentSum as tf.KernelFunc;
    tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: fn });
  }
}
