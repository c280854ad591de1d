import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forwardWindow, modelDenoiser } from '../../src/model/block_cache.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { disposeParams, forward, type Params } from '../../src/model/model.ts';
import { tinyModel, useBackend } from '../sampling/helpers.ts';

const IDS = [[10, 10, 1, 2, 11, 11, 11, 11, 11, 11], [3, 4, 5, 6, 11, 7, 11, 11, 11, 11]]; // row 0 left-padded
const AM = [[0, 0, 1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]];
const L = IDS[0].length;

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

describe('forwardWindow (block KV cache)', () => {
  let deep: { cfg: ModelConfig; params: Params };
  let shallow: { cfg: ModelConfig; params: Params };
  beforeAll(async () => {
    await useBackend('cpu');
    deep = tinyModel(2);
    shallow = tinyModel(1);
  });
  afterAll(() => {
    disposeParams(deep.params);
    disposeParams(shallow.params);
  });

  it('the whole row without a cache gives forward’s logits', () => {
    const ids = tf.tensor2d(IDS, undefined, 'int32');
    const am = tf.tensor2d(AM);
    const d = tf.tidy(() => maxDiff(forward(deep.params, deep.cfg, ids, am), forwardWindow(deep.params, deep.cfg, ids, am, 0, L, null).logits));
    expect(d).toBeLessThan(1e-4);
    tf.dispose([ids, am]);
  });

  it('a window over unchanged ids with their own cache gives the full pass’s columns (prefix and dual windows)', () => {
    const ids = tf.tensor2d(IDS, undefined, 'int32');
    const am = tf.tensor2d(AM);
    const before = tf.memory().numTensors;
    for (const [s, e] of [[4, L], [4, 7], [6, 8]]) {
      const d = tf.tidy(() => {
        const full = forwardWindow(deep.params, deep.cfg, ids, am, 0, L, null);
        const win = forwardWindow(deep.params, deep.cfg, ids, am, s, e, full);
        expect(win.logits.shape).toEqual([2, e - s, 12]);
        return maxDiff(win.logits, tf.slice(full.logits, [0, s, 0], [-1, e - s, -1]));
      });
      expect(d).toBeLessThan(1e-4);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([ids, am]);
  });

  it('logitCols: only those columns’ logits, the same numbers, and every window column’s keys/values', () => {
    const ids = tf.tensor2d(IDS, undefined, 'int32');
    const am = tf.tensor2d(AM);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const full = forwardWindow(deep.params, deep.cfg, ids, am, 0, L, null);
      const part = forwardWindow(deep.params, deep.cfg, ids, am, 0, L, null, [4, 7]);
      expect(part.logits.shape).toEqual([2, 3, 12]);
      expect(maxDiff(part.logits, tf.slice(full.logits, [0, 4, 0], [-1, 3, -1]))).toBeLessThan(1e-4);
      part.keys.forEach((k, i) => expect(maxDiff(k, full.keys[i])).toBe(0));
      const win = forwardWindow(deep.params, deep.cfg, ids, am, 4, L, full, [4, 7]); // a prefix-cache window, block logits
      expect(maxDiff(win.logits, tf.slice(full.logits, [0, 4, 0], [-1, 3, -1]))).toBeLessThan(1e-4);
      expect(() => forwardWindow(deep.params, deep.cfg, ids, am, 4, 7, full, [3, 7])).toThrow(/logit columns \[3, 7\) must lie inside the window \[4, 7\)/);
    });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([ids, am]);
  });

  it('exact for a 1-layer model after the window’s tokens change (layer-0 keys/values depend only on token and position)', () => {
    const am = tf.tensor2d(AM);
    const old = tf.tensor2d(IDS, undefined, 'int32');
    const changed = IDS.map((r) => r.map((t, l) => (l >= 4 && l < 7 && t === 11 ? (l + 2) % 9 : t)));
    const now = tf.tensor2d(changed, undefined, 'int32');
    for (const [s, e] of [[4, L], [4, 7]]) {
      const [d1, d2] = tf.tidy(() => {
        const cache1 = forwardWindow(shallow.params, shallow.cfg, old, am, 0, L, null);
        const exact = maxDiff(forwardWindow(shallow.params, shallow.cfg, now, am, s, e, cache1).logits, tf.slice(forward(shallow.params, shallow.cfg, now, am), [0, s, 0], [-1, e - s, -1]));
        const cache2 = forwardWindow(deep.params, deep.cfg, old, am, 0, L, null);
        const approx = maxDiff(forwardWindow(deep.params, deep.cfg, now, am, s, e, cache2).logits, tf.slice(forward(deep.params, deep.cfg, now, am), [0, s, 0], [-1, e - s, -1]));
        return [exact, approx];
      });
      expect(d1).toBeLessThan(1e-4);
      expect(d2).toBeGreaterThan(1e-3); // 2 layers: the cached columns' layer-1 keys saw the old tokens
    }
    tf.dispose([am, old, now]);
  });

  it('refuses a window without a cache, outside the row, or a causal model', () => {
    const ids = tf.tensor2d(IDS, undefined, 'int32');
    expect(() => tf.tidy(() => forwardWindow(deep.params, deep.cfg, ids, null, 4, L, null).logits)).toThrow(/needs the other columns/);
    expect(() => tf.tidy(() => forwardWindow(deep.params, deep.cfg, ids, null, 4, L + 1, null).logits)).toThrow(/must lie inside/);
    expect(() => tf.tidy(() => forwardWindow(deep.params, { ...deep.cfg, causal: true }, ids, null, 0, L, null).logits)).toThrow(/causal/);
    expect(typeof modelDenoiser(deep.params, deep.cfg).window).toBe('function');
    ids.dispose();
  });
});
