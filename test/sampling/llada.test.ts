import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/rng.ts';
import { modelLogits, topKMask, type DecodeContext } from '../../src/sampling/decode_state.ts';
import { generate } from '../../src/sampling/generate.ts';
import { numTransferTokens } from '../../src/sampling/transfer_schedule.ts';
import type { LogitsFn, StepState } from '../../src/sampling/types.ts';
import { EOS, IDS, MASK, V, contextLogits, countIn, useBackend } from './helpers.ts';

beforeAll(() => useBackend('cpu'));

const prompts = [[1, 2, 3], [4, 5], [6]];

describe('llada sampler', () => {
  it('commits exactly the planned count per step and block, never touches the prompt, leaves no mask', async () => {
    for (const seed of [1, 2, 3, 4]) {
      for (const [remasking, temperature] of [['low_confidence', 0], ['low_confidence', 0.8], ['random', 1]] as const) {
        const gen_length = 12;
        const block_length = 4;
        const steps = 9; // 3 per block: 4 masks → [2, 1, 1]
        const trace: StepState[] = [];
        const res = await generate(contextLogits(seed), {
          ...IDS, prompts, num_generations: 2, sampler: 'llada', gen_length, block_length, steps, temperature, remasking,
          rng: new Rng(seed, 'sampling'), onStep: (s) => trace.push(s),
        });
        expect(res.nfe).toBe(steps);
        expect(trace.length).toBe(steps);
        const Lp = 3;
        const plan = numTransferTokens(block_length, steps / 3);
        let prev = res.full.map((r) => r.map((t, l) => (l < Lp ? t : MASK)));
        trace.forEach((s, i) => {
          const b = Math.floor(i / 3);
          const start = Lp + b * block_length;
          s.ids.forEach((row, n) => {
            expect(row.slice(0, Lp)).toEqual(res.full[n].slice(0, Lp)); // prompt and padding unchanged
            const committed = countIn(prev[n], start, start + block_length, MASK) - countIn(row, start, start + block_length, MASK);
            expect(committed).toBe(plan[i % 3]);
            expect(countIn(row, start + block_length, Lp + gen_length, MASK)).toBe(Lp + gen_length - start - block_length); // right of block untouched
            row.forEach((t, l) => { if (prev[n][l] !== MASK) expect(t).toBe(prev[n][l]); }); // commits are final
          });
          prev = s.ids;
        });
        res.sequences.forEach((seq) => expect(seq).not.toContain(MASK));
        expect(res.full.map((r) => r.slice(0, Lp))).toEqual([
          [PADROW(1, 2, 3)], [PADROW(1, 2, 3)], [PADROW(4, 5)], [PADROW(4, 5)], [PADROW(6)], [PADROW(6)],
        ].map((r) => r[0]));
        expect(res.promptLengths).toEqual([3, 3, 2, 2, 1, 1]);
      }
    }
  });

  it('confidence is the probability of the SAMPLED token, not the max probability', async () => {
    // One block of 2 masks, 1 step commits 1. Pos A: p = [0.6, 0.4]; pos B: p = [0.5, 0.5]. With near-uniform
    // sampling (tau = 1000) A wins iff it drew token 0 (0.6 > 0.5 > 0.4). Max-prob confidence would always pick A.
    const row = [Math.log(0.6), Math.log(0.4), Math.log(0.5), Math.log(0.5)];
    const fn: LogitsFn = (ids) => {
      const N = ids.shape[0];
      const neg = new Array(V - 2).fill(-1e9);
      const data = [0, 0, ...neg, row[0], row[1], ...neg, row[2], row[3], ...neg];
      return tf.tile(tf.tensor3d(data, [1, 3, V]), [N, 1, 1]) as tf.Tensor3D;
    };
    let bWins = 0;
    for (let seed = 0; seed < 40; seed++) {
      const res = await generate(fn, { ...IDS, prompts: [[0]], sampler: 'llada', gen_length: 2, steps: 2, temperature: 1000, rng: new Rng(seed, 's'),
        onStep: (s) => {
          if (s.step !== 1) return;
          const [a, b] = s.ids[0].slice(1);
          if (a !== MASK) expect(a).toBe(0);
          if (b !== MASK) bWins++;
        } });
      expect(res.sequences[0]).not.toContain(MASK);
    }
    expect(bWins).toBeGreaterThan(5);
    expect(bWins).toBeLessThan(35);
  });

  it('topKMask commits a different k per row and never a -inf position', () => {
    const score = tf.tensor2d([
      [0.1, 0.9, -Infinity, 0.5],
      [0.3, -Infinity, 0.2, 0.8],
      [-Infinity, 0.4, -Infinity, -Infinity],
    ]);
    const m = tf.tidy(() => topKMask(score as tf.Tensor2D, [2, 0, 3]));
    expect(m.arraySync()).toEqual([[0, 1, 0, 1], [0, 0, 0, 0], [0, 1, 0, 0]]); // bool reads back as 0/1
    tf.dispose([score, m]);
  });

  it('CFG: one batched call with the prompt masked in the unconditional copy; un + (w+1)(cond - un)', () => {
    const calls: number[][][] = [];
    const fn: LogitsFn = (ids) => {
      const x = ids.arraySync();
      calls.push(x);
      // cond rows (prompt intact) get logits c[v] = v / 4, uncond rows (prompt masked) u[v] = (V - v) / 8 + position
      const data = x.flatMap((r) => r.flatMap((_, l) => Array.from({ length: V }, (_, v) => (r[1] === MASK ? (V - v) / 8 + l : v / 4))));
      return tf.tensor3d(data, [x.length, x[0].length, V]);
    };
    const x = tf.tensor2d([[PAD_ID, 1, 2, MASK, 7], [3, 4, 5, MASK, MASK]], [2, 5], 'int32');
    const promptMask = tf.tensor2d([[false, true, true, false, false], [true, true, true, false, false]], [2, 5], 'bool');
    const am = tf.tensor2d([[0, 1, 1, 1, 1], [1, 1, 1, 1, 1]]);
    const ctx: DecodeContext = { logitsFn: fn, N: 2, L: 5, genStart: 3, genLength: 2, attentionMask: am as tf.Tensor2D,
      promptMask: promptMask as tf.Tensor2D, maskId: MASK, eosId: EOS, cfgScale: 2, suppressEos: true, rng: new Rng(1), cache: null, live: null, eosFill: false, positions: 0, nfe: 0, step: 0 };
    const logits = tf.tidy(() => modelLogits(ctx, x as tf.Tensor2D));
    expect(calls.length).toBe(1);
    expect(calls[0]).toEqual([
      [PAD_ID, 1, 2, MASK, 7], [3, 4, 5, MASK, MASK],
      [PAD_ID, MASK, MASK, MASK, 7], [MASK, MASK, MASK, MASK, MASK],
    ]);
    expect(ctx.nfe).toBe(2);
    const got = logits.arraySync();
    for (let n = 0; n < 2; n++) for (let l = 0; l < 5; l++) for (let v = 0; v < V; v++) {
      const c = v / 4;
      const u = (V - v) / 8 + l;
      const want = v === MASK || v === EOS ? -Infinity : u + 3 * (c - u);
      if (want === -Infinity) expect(got[n][l][v]).toBe(-Infinity);
      else expect(got[n][l][v]).toBeCloseTo(want, 4);
    }
    tf.dispose([x, promptMask, am, logits]);
  });

  it('cfg_scale > 0 doubles the reported NFE and still fills everything', async () => {
    const res = await generate(contextLogits(5), { ...IDS, prompts, sampler: 'llada', gen_length: 6, block_length: 3, steps: 4, cfg_scale: 1.5, rng: new Rng(1) });
    expect(res.nfe).toBe(8);
    res.sequences.forEach((s) => expect(s).not.toContain(MASK));
  });

  it('suppress_eos never produces EOS', async () => {
    const eosLover: LogitsFn = (ids) => tf.tidy(() => tf.add(contextLogits(3)(ids, null), tf.mul(20, tf.oneHot(tf.fill(ids.shape, EOS, 'int32'), V))) as tf.Tensor3D);
    const on = await generate(eosLover, { ...IDS, prompts, sampler: 'llada', gen_length: 4, steps: 4, suppress_eos: true, rng: new Rng(1) });
    const off = await generate(eosLover, { ...IDS, prompts, sampler: 'llada', gen_length: 4, steps: 4, rng: new Rng(1) });
    on.sequences.forEach((s) => expect(s).not.toContain(EOS));
    off.sequences.forEach((s) => expect(s).toEqual([EOS, EOS, EOS, EOS]));
  });
});

const PAD_ID = IDS.padId;
function PADROW(...p: number[]): number[] {
  return [...new Array(3 - p.length).fill(PAD_ID), ...p];
}
