import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/rng.ts';
import { generate } from '../../src/sampling/generate.ts';
import { factorSelect, thresholdSelect } from '../../src/sampling/threshold.ts';
import type { StepState } from '../../src/sampling/types.ts';
import { IDS, MASK, contextLogits, countIn, useBackend } from './helpers.ts';

beforeAll(() => useBackend('cpu'));
const NI = -Infinity;

describe('threshold selection rules', () => {
  it('threshold: all >= tau, and always the row maximum; -inf never', () => {
    const conf = tf.tensor2d([[0.95, 0.2, 0.91, NI], [0.3, 0.5, NI, 0.1], [NI, NI, NI, NI]]);
    const m = thresholdSelect(conf as tf.Tensor2D, 0.9);
    expect(m.arraySync()).toEqual([[1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0]]);
    tf.dispose([conf, m]);
  });

  it('factor: largest n with (n+1)(1 - c_(n)) <= f, at least 1', () => {
    // sorted c = 0.99, 0.95, 0.9, 0.5 → (n+1)(1-c) = 0.02, 0.15, 0.4, 2.5
    const conf = tf.tensor2d([[0.5, 0.99, 0.9, 0.95, NI], [0.5, 0.99, 0.9, 0.95, NI], [0.1, 0.2, NI, NI, NI]]);
    const f1 = factorSelect(conf as tf.Tensor2D, 1, 5);
    expect(f1.arraySync()[0]).toEqual([0, 1, 1, 1, 0]);
    const f01 = factorSelect(conf as tf.Tensor2D, 0.1, 5);
    expect(f01.arraySync()).toEqual([[0, 1, 0, 0, 0], [0, 1, 0, 0, 0], [0, 1, 0, 0, 0]]); // low row: still its top one
    const f3 = factorSelect(conf as tf.Tensor2D, 3, 5);
    expect(f3.arraySync()[1]).toEqual([1, 1, 1, 1, 0]);
    tf.dispose([conf, f1, f01, f3]);
  });
});

describe('threshold sampler', () => {
  it('never stalls: every step commits >= 1 in each unfinished row; prompt untouched; no mask left', async () => {
    for (const seed of [1, 2, 3, 4]) {
      for (const rule of [{ threshold: 0.9 }, { threshold: 0.3 }, { factor: 1 }] as const) {
        const trace: StepState[] = [];
        const B = 4;
        const res = await generate(contextLogits(seed), { ...IDS, prompts: [[1, 2, 3], [4]], num_generations: 2, sampler: 'threshold',
          gen_length: 8, block_length: B, temperature: seed % 2 ? 0 : 0.8, ...rule, rng: new Rng(seed), onStep: (s) => trace.push(s) });
        expect(res.nfe).toBe(trace.length);
        let prev = res.full.map((r) => r.map((t, l) => (l < 3 ? t : MASK)));
        for (const s of trace) {
          const start = 3 + s.block * B;
          s.ids.forEach((row, n) => {
            expect(row.slice(0, 3)).toEqual(res.full[n].slice(0, 3));
            const before = countIn(prev[n], start, start + B, MASK);
            const after = countIn(row, start, start + B, MASK);
            if (before > 0) expect(after).toBeLessThan(before);
          });
          prev = s.ids;
        }
        expect(trace.length).toBeLessThanOrEqual(8);
        res.sequences.forEach((seq) => expect(seq).not.toContain(MASK));
      }
    }
  });

  it('a tiny threshold decodes a whole block per call; threshold 1 decodes one token per call', async () => {
    const base = { ...IDS, prompts: [[1, 2]], sampler: 'threshold' as const, gen_length: 8, block_length: 4, rng: new Rng(1) };
    expect((await generate(contextLogits(9), { ...base, threshold: 1e-6 })).nfe).toBe(2);
    expect((await generate(contextLogits(9), { ...base, threshold: 1 })).nfe).toBe(8);
  });
});
