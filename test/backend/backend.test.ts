import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { setupBackend } from '../../src/backend/backend.ts';
import { ConfigError } from '../../src/errors.ts';

describe('setupBackend', () => {
  it('cpu: only when asked, reports no wasm fields', async () => {
    const logs: [string, object][] = [];
    const info = await setupBackend('cpu', (m, f) => logs.push([m, f]));
    expect(info).toEqual({ backend: 'cpu', simd: null, threads: null });
    expect(tf.getBackend()).toBe('cpu');
    expect(logs).toEqual([['compute backend ready', { requested: 'cpu', backend: 'cpu', simd: null, threads: null }]]);
  });

  it('wasm: SIMD, one thread, kernel fixes registered; idempotent', async () => {
    const info = await setupBackend('wasm');
    expect(info).toEqual({ backend: 'wasm', simd: true, threads: 1 });
    expect(tf.getBackend()).toBe('wasm');
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBeDefined();
    const fn = tf.getKernel('Slice', 'wasm')!.kernelFunc;
    expect(await setupBackend('wasm')).toEqual(info);
    expect(tf.getKernel('Slice', 'wasm')!.kernelFunc).toBe(fn);
  });

  it('tensorflow / tensorflow-gpu: a clear error when the optional package is missing', async () => {
    await expect(setupBackend('tensorflow')).rejects.toThrow(ConfigError);
    await expect(setupBackend('tensorflow')).rejects.toThrow(/runtime.backend: tensorflow: @tensorflow\/tfjs-node is not installed.*yarn add @tensorflow\/tfjs-node@4\.22\.0/);
    await expect(setupBackend('tensorflow-gpu')).rejects.toThrow(/@tensorflow\/tfjs-node-gpu is not installed.*CUDA/);
  });

  it('auto: falls through the missing native packages to wasm and says so', async () => {
    await setupBackend('cpu');
    const logs: [string, Record<string, unknown>][] = [];
    const info = await setupBackend('auto', (m, f) => logs.push([m, f as Record<string, unknown>]));
    expect(info.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(logs.filter(([m]) => m.startsWith('backend not available')).map(([, f]) => f.backend)).toEqual(['tensorflow-gpu', 'tensorflow']);
    expect(logs[logs.length - 1][1]).toMatchObject({ requested: 'auto', backend: 'wasm' });
  });

  it('rejects an unknown name', async () => {
    await expect(setupBackend('gpu' as never)).rejects.toThrow(/runtime.backend: unknown backend 'gpu'/);
  });
});
