import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { coupledLogProbs, oneStepLogLikelihood, oneStepLogProbs, scoredMask, trajectoryLogProbs, trajectoryPassMask, trajectoryPasses } from '../../../src/rl/objectives/estimators.ts';
import type { LogitsFn } from '../../../src/sampling/types.ts';
import { IDS, MASK, V, contextLogits, logSoftmax, maskAwareTable, tableLogits, useBackend } from '../../sampling/helpers.ts';

beforeAll(() => useBackend('cpu'));

describe('coupledLogProbs', () => {
  it('scores every completion token once, in the view where it is masked; views are complementary; prompt mask shared', () => {
    const L = 10;
    const Lg = 6;
    const { fn: table, T, M } = maskAwareTable(L, 9);
    const seen: number[][][] = [];
    const spy: LogitsFn = (ids, am) => {
      seen.push(ids.arraySync());
      return table(ids, am);
    };
    const rows = [[1, 2, 3, 4, 5, 6, 7, 8, 1, 2], [PADT, 3, 4, 5, 6, 7, 8, 1, 2, 3], [4, 4, 4, 4, 1, 2, 3, 4, 5, 6]];
    const ids = tf.tensor2d(rows, [3, L], 'int32');
    const am = tf.tensor2d(rows.map((r) => r.map((x) => (x === PADT ? 0 : 1))));
    const pm = tf.tensor2d(rows.map((r) => r.map((x, l) => (x !== PADT && l < L - Lg ? 1 : 0))));
    const opts = { maskId: MASK, pMaskPrompt: 0.5, maskSeed: 21, genLength: Lg, attentionMask: am as tf.Tensor2D };
    const lp = coupledLogProbs(spy, ids as tf.Tensor2D, pm as tf.Tensor2D, opts);
    expect(lp.shape).toEqual([3, Lg]);
    const got = lp.arraySync();
    const views = seen[0]; // [2N, L]: view A rows then view B rows
    expect(views.length).toBe(6);
    let inA = 0;
    for (let n = 0; n < 3; n++) {
      const a = views[n];
      const b = views[3 + n];
      for (let l = 0; l < L - Lg; l++) {
        expect(a[l]).toBe(b[l]); // same prompt mask in both views
        if (rows[n][l] === PADT) expect(a[l]).toBe(PADT); // padding never masked
        else expect([rows[n][l], MASK]).toContain(a[l]);
      }
      for (let k = 0; k < Lg; k++) {
        const l = L - Lg + k;
        expect((a[l] === MASK ? 1 : 0) + (b[l] === MASK ? 1 : 0)).toBe(1); // complementary
        expect(a[l] === MASK ? b[l] : a[l]).toBe(rows[n][l]); // the other view shows the sampled token
        if (a[l] === MASK) inA++;
        // the table's logits only depend on "masked or not", so the masked view's value is T + M
        expect(got[n][k]).toBeCloseTo(logSoftmax(T[l].map((t, v) => t + M[l][v]))[rows[n][l]], 4);
      }
    }
    expect(inA).toBeGreaterThan(0);
    expect(inA).toBeLessThan(3 * Lg);
    // reproducible from the seed (current / old / ref see the same masks)
    coupledLogProbs(spy, ids as tf.Tensor2D, pm as tf.Tensor2D, opts).dispose();
    expect(seen[1]).toEqual(seen[0]);
    tf.dispose([ids, am, pm, lp]);
  });
});

/** Two rows of 3 prompt + 4 completion tokens with their commit steps (1..3), and context-dependent logits. */
function trajectoryFixture() {
  const L = 7;
  const Lg = 4;
  const rows = [[1, 2, 3, 4, 5, 6, 7], [3, 3, 1, 8, 0, 2, 4]];
  const steps = [[2, 1, 3, 2], [1, 1, 2, 3]];
  const ids = tf.tensor2d(rows, [2, L], 'int32') as tf.Tensor2D;
  const pm = tf.tensor2d(rows.map((r) => r.map((_, l) => (l < L - Lg ? 1 : 0)))) as tf.Tensor2D;
  const cs = tf.tensor2d(steps, [2, Lg], 'int32') as tf.Tensor2D;
  return { L, Lg, fn: contextLogits(5), steps, ids, pm, cs };
}

describe('trajectoryLogProbs', () => {
  it('scores each token in the state before the step that committed it (hand computation with context-dependent logits)', () => {
    const L = 7;
    const Lg = 4;
    const fn = contextLogits(5);
    const rows = [[1, 2, 3, 4, 5, 6, 7], [3, 3, 1, 8, 0, 2, 4]];
    const steps = [[2, 1, 3, 2], [1, 1, 2, 2]];
    const ids = tf.tensor2d(rows, [2, L], 'int32');
    const pm = tf.tensor2d(rows.map((r) => r.map((_, l) => (l < L - Lg ? 1 : 0))));
    const cs = tf.tensor2d(steps, [2, Lg], 'int32');
    const got = trajectoryLogProbs(fn, ids as tf.Tensor2D, pm as tf.Tensor2D, cs as tf.Tensor2D, 3, { maskId: MASK, genLength: Lg });
    const out = got.arraySync();
    for (let n = 0; n < 2; n++) {
      for (let k = 0; k < Lg; k++) {
        const s = steps[n][k];
        // the state before step s: completion tokens committed at steps < s visible, the rest masked
        const state = rows[n].map((x, l) => (l >= L - Lg && steps[n][l - (L - Lg)] >= s ? MASK : x));
        const logits = fn(tf.tensor2d([state], [1, L], 'int32') as tf.Tensor2D, null).arraySync()[0][L - Lg + k];
        expect(out[n][k]).toBeCloseTo(logSoftmax(logits)[rows[n][L - Lg + k]], 4);
      }
    }
    // every token committed at step 1 = the one-step estimate
    const ones = tf.onesLike(cs);
    const a = trajectoryLogProbs(fn, ids as tf.Tensor2D, pm as tf.Tensor2D, ones as tf.Tensor2D, 1, { maskId: MASK, genLength: Lg });
    const b = oneStepLogProbs(fn, ids as tf.Tensor2D, L - Lg, { maskId: MASK });
    expect(a.arraySync()).toEqual(b.arraySync());
    tf.dispose([ids, pm, cs, got, ones, a, b]);
  });

  it('with per-row states scores exactly the tokens committed at those states, with the full estimate\'s values', () => {
    const { L, Lg, fn, steps, ids, pm, cs } = trajectoryFixture();
    const full = trajectoryLogProbs(fn, ids, pm, cs, 3, { maskId: MASK, genLength: Lg }).arraySync();
    const states = tf.tensor2d([[2], [3]], [2, 1], 'int32') as tf.Tensor2D; // row 0 scores step 2, row 1 step 3
    const part = trajectoryLogProbs(fn, ids, pm, cs, 3, { maskId: MASK, genLength: Lg, states }).arraySync();
    const mask = scoredMask(cs, states).arraySync();
    expect(mask).toEqual([[1, 0, 0, 1], [0, 0, 0, 1]]);
    for (let n = 0; n < 2; n++) {
      for (let k = 0; k < Lg; k++) {
        if (mask[n][k]) expect(part[n][k]).toBeCloseTo(full[n][k], 5);
        else expect(part[n][k]).toBe(0);
      }
    }
    // Two states per row: the union of their tokens.
    const two = tf.tensor2d([[1, 3], [2, 1]], [2, 2], 'int32') as tf.Tensor2D;
    expect(scoredMask(cs, two).arraySync()).toEqual([[0, 1, 1, 0], [1, 1, 1, 0]]);
    // Every state listed = the full estimate.
    const all = tf.tensor2d([[3, 1, 2], [2, 3, 1]], [2, 3], 'int32') as tf.Tensor2D;
    const allOut = trajectoryLogProbs(fn, ids, pm, cs, 3, { maskId: MASK, genLength: Lg, states: all }).arraySync();
    allOut.forEach((row, n) => row.forEach((v, k) => expect(v).toBeCloseTo(full[n][k], 5)));
    tf.dispose([ids, pm, cs, states, two, all]);
  });

  it('pass j alone scores exactly its tokens; the passes partition the completion and sum to the full estimate', () => {
    const { L, Lg, fn, steps, ids, pm, cs } = trajectoryFixture();
    const full = trajectoryLogProbs(fn, ids, pm, cs, 3, { maskId: MASK, genLength: Lg }).arraySync();
    const states = tf.tensor2d([[3, 1], [2, 1]], [2, 2], 'int32') as tf.Tensor2D;
    const scored = scoredMask(cs, states).arraySync();
    for (const st of [null, states]) {
      const n = trajectoryPasses(3, st);
      expect(n).toBe(st ? 2 : 3);
      const sum = full.map((r) => r.map(() => 0));
      const covered = full.map((r) => r.map(() => 0));
      for (let j = 0; j < n; j++) {
        const got = trajectoryLogProbs(fn, ids, pm, cs, 3, { maskId: MASK, genLength: Lg, states: st, pass: j }).arraySync();
        const mask = trajectoryPassMask(cs, j, st).arraySync();
        for (let r = 0; r < 2; r++) {
          for (let k = 0; k < Lg; k++) {
            // pass j = step j + 1, or row r's j-th listed state
            expect(mask[r][k]).toBe(steps[r][k] === (st ? [[3, 1], [2, 1]][r][j] : j + 1) ? 1 : 0);
            if (mask[r][k]) expect(got[r][k]).toBeCloseTo(full[r][k], 5);
            else expect(got[r][k]).toBe(0);
            sum[r][k] += got[r][k];
            covered[r][k] += mask[r][k];
          }
        }
      }
      // all states: every token exactly once; listed states: exactly the scored tokens, once
      expect(covered).toEqual(st ? scored : full.map((r) => r.map(() => 1)));
      sum.forEach((row, r) => row.forEach((v, k) => expect(v).toBeCloseTo(covered[r][k] ? full[r][k] : 0, 5)));
    }
    expect(() => trajectoryLogProbs(fn, ids, pm, cs, 3, { maskId: MASK, genLength: Lg, pass: 3 })).toThrow(/pass 3 is not one of 0..2/);
    tf.dispose([ids, pm, cs, states]);
  });
});

describe('oneStepLogProbs', () => {
  it('equals a hand computation: completion fully masked, prompt kept', () => {
    const L = 6;
    const { fn, T, M } = maskAwareTable(L, 7);
    const ids = tf.tensor2d([[1, 2, 3, 4, 5, 6], [2, 2, 2, 0, 1, 8]], [2, L], 'int32');
    const lp = oneStepLogProbs(fn, ids as tf.Tensor2D, 3, { maskId: MASK });
    expect(lp.shape).toEqual([2, 3]);
    const got = lp.arraySync();
    const x = ids.arraySync();
    for (let n = 0; n < 2; n++) {
      for (let k = 0; k < 3; k++) {
        const l = 3 + k;
        expect(got[n][k]).toBeCloseTo(logSoftmax(T[l].map((t, v) => t + M[l][v]))[x[n][l]], 4);
      }
    }
    tf.dispose([ids, lp]);
  });

  it('p_mask_prompt masks real prompt tokens only, reproducibly from maskSeed', () => {
    const seen: number[][][] = [];
    const spy: LogitsFn = (ids, am) => {
      seen.push(ids.arraySync());
      return tableLogits(8, 1).fn(ids, am);
    };
    const ids = tf.tensor2d([[PADT, PADT, 1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 1, 2, 3]], [2, 8], 'int32');
    const am = tf.tensor2d([[0, 0, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1]]);
    const run = (p: number, seed: number) => oneStepLogProbs(spy, ids as tf.Tensor2D, 5, { maskId: MASK, pMaskPrompt: p, maskSeed: seed, attentionMask: am as tf.Tensor2D }).dispose();
    run(1, 3);
    expect(seen[0]).toEqual([[PADT, PADT, MASK, MASK, MASK, MASK, MASK, MASK], [MASK, MASK, MASK, MASK, MASK, MASK, MASK, MASK]]);
    run(0.5, 11);
    run(0.5, 11);
    run(0.5, 12);
    expect(seen[1]).toEqual(seen[2]);
    expect(seen[1]).not.toEqual(seen[3]);
    // promptMask form: only the flagged tokens may be masked
    const pm = tf.tensor2d([[0, 0, 0, 1, 1, 0, 0, 0], [1, 0, 1, 0, 0, 0, 0, 0]]);
    oneStepLogProbs(spy, ids as tf.Tensor2D, pm as tf.Tensor2D, { maskId: MASK, pMaskPrompt: 1, maskSeed: 5, genLength: 3, attentionMask: am as tf.Tensor2D }).dispose();
    expect(seen[4]).toEqual([[PADT, PADT, 1, MASK, MASK, MASK, MASK, MASK], [MASK, 2, MASK, 4, 5, MASK, MASK, MASK]]);
    expect(() => oneStepLogProbs(spy, ids as tf.Tensor2D, 5, { maskId: MASK, pMaskPrompt: 0.3 })).toThrow(/maskSeed/);
    tf.dispose([ids, am, pm]);
  });

  it('is differentiable: d/dθ Σ log p = onehot(target) − softmax(θ) on completion positions', () => {
    const L = 4;
    const theta = tf.variable(tf.tensor2d(tableLogits(L, 3).table.flat(), [L, V]));
    const fn: LogitsFn = (ids) => tf.tile(tf.expandDims(theta, 0), [ids.shape[0], 1, 1]) as tf.Tensor3D;
    const ids = tf.tensor2d([[1, 2, 3, 4]], [1, L], 'int32');
    const { grads } = tf.variableGrads(() => tf.sum(oneStepLogProbs(fn, ids as tf.Tensor2D, 2, { maskId: MASK })) as tf.Scalar, [theta]);
    const g = grads[theta.name].arraySync() as number[][];
    const th = theta.arraySync();
    for (let l = 0; l < L; l++) {
      const sm = logSoftmax(th[l]).map(Math.exp);
      for (let v = 0; v < V; v++) {
        const want = l < 2 ? 0 : (v === [1, 2, 3, 4][l] ? 1 : 0) - sm[v];
        expect(g[l][v]).toBeCloseTo(want, 5);
      }
    }
    tf.dispose([theta, ids, grads[theta.name]]);
  });

  it('number wrapper: left padding and grouping by completion length give the per-row results', async () => {
    const fn = contextLogits(4);
    const prompts = [[1, 2, 3], [4], [5, 6]];
    const completions = [[7, 8], [1, 2, 3], [0, 8]];
    const all = await oneStepLogLikelihood(fn, prompts, completions, IDS);
    for (let i = 0; i < 3; i++) {
      const alone = await oneStepLogLikelihood(fn, [prompts[i]], [completions[i]], IDS);
      alone.perToken[0].forEach((v, k) => expect(all.perToken[i][k]).toBeCloseTo(v, 5));
      expect(all.total[i]).toBeCloseTo(alone.total[0], 5);
    }
    expect(all.perToken.map((r) => r.length)).toEqual([2, 3, 2]);
  });
});

const PADT = IDS.padId;
