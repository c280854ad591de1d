import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/rng.ts';
import { dusRounds } from '../../src/sampling/dus.ts';
import { generate } from '../../src/sampling/generate.ts';
import type { StepState } from '../../src/sampling/types.ts';
import { IDS, MASK, contextLogits, useBackend } from './helpers.ts';

beforeAll(() => useBackend('cpu'));

const oneBased = (B: number) => dusRounds(B).map((r) => r.map((o) => o + 1));

describe('dusRounds', () => {
  it('B = 8: {1,5}, {3,7}, {2,4,6,8}', () => {
    expect(oneBased(8)).toEqual([[1, 5], [3, 7], [2, 4, 6, 8]]);
  });

  it('B = 16 and 32: ⌈log2 B⌉ rounds doubling in size', () => {
    expect(oneBased(16)).toEqual([[1, 9], [5, 13], [3, 7, 11, 15], [2, 4, 6, 8, 10, 12, 14, 16]]);
    expect(dusRounds(32).map((r) => r.length)).toEqual([2, 2, 4, 8, 16]);
  });

  it('non-powers of two: stride ⌊B/2^t⌋ hits 1 early, the rest is revealed then, empty rounds dropped', () => {
    expect(oneBased(6)).toEqual([[1, 4], [2, 3, 5, 6]]);
    expect(oneBased(12)).toEqual([[1, 7], [4, 10], [2, 3, 5, 6, 8, 9, 11, 12]]);
    expect(oneBased(5)).toEqual([[1, 3, 5], [2, 4]]);
    expect(oneBased(1)).toEqual([[1]]);
    expect(oneBased(2)).toEqual([[1, 2]]); // ⌈log2 2⌉ = 1 round
  });

  it('every position exactly once, at most ⌈log2 B⌉ rounds, none empty', () => {
    for (let B = 1; B <= 70; B++) {
      const rounds = dusRounds(B);
      expect(rounds.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: B }, (_, i) => i));
      expect(rounds.length).toBeLessThanOrEqual(Math.max(1, Math.ceil(Math.log2(B))));
      rounds.forEach((r) => expect(r.length).toBeGreaterThan(0));
    }
  });
});

describe('dus sampler', () => {
  it('reveals exactly the planned positions per call, block by block; prompt untouched; no mask left', async () => {
    for (const seed of [1, 2, 3]) {
      for (const B of [8, 6]) {
        const gen_length = 2 * B;
        const trace: StepState[] = [];
        const prompts = [[1, 2], [3]];
        const res = await generate(contextLogits(seed), { ...IDS, prompts, num_generations: 2, sampler: 'dus', gen_length, block_length: B,
          temperature: seed === 3 ? 0.7 : 0, rng: new Rng(seed), onStep: (s) => trace.push(s) });
        const rounds = dusRounds(B);
        expect(res.nfe).toBe(2 * rounds.length);
        expect(trace.length).toBe(2 * rounds.length);
        const Lp = 2;
        trace.forEach((s, i) => {
          const b = Math.floor(i / rounds.length);
          const revealedSoFar = new Set(rounds.slice(0, (i % rounds.length) + 1).flat().map((o) => Lp + b * B + o));
          s.ids.forEach((row, n) => {
            expect(row.slice(0, Lp)).toEqual(res.full[n].slice(0, Lp));
            for (let l = Lp; l < Lp + gen_length; l++) {
              const done = l < Lp + b * B || revealedSoFar.has(l);
              expect(row[l] !== MASK).toBe(done);
            }
          });
        });
        res.sequences.forEach((seq) => expect(seq).not.toContain(MASK));
      }
    }
  });
});
