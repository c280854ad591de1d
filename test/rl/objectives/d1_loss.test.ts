import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { completionMask, policyLoss, type PolicyLossOptions } from '../../../src/rl/objectives/d1_loss.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const opts: PolicyLossOptions = { epsilon: 0.2, beta: 0, loss_type: 'bnpo', max_completion_length: 3 };

function run(logp: number[][], old: number[][], ref: number[][] | null, adv: number[], mask: number[][], o: Partial<PolicyLossOptions> = {}) {
  return tf.tidy(() => {
    const out = policyLoss(
      { logp: tf.tensor2d(logp), oldLogp: tf.tensor2d(old), refLogp: ref ? tf.tensor2d(ref) : null, advantages: tf.tensor1d(adv), completionMask: tf.tensor2d(mask) },
      { ...opts, ...o },
    );
    return { loss: out.loss.arraySync(), kl: out.kl.arraySync(), clipLow: out.clipLow.arraySync(), clipHigh: out.clipHigh.arraySync() };
  });
}

describe('policyLoss', () => {
  const logp = [[-1, -2, -0.5], [-0.3, -0.7, -1.2]];
  const mask = [[1, 1, 0], [1, 1, 1]];

  it('with old = current (mu = 1) the ratio is 1 and the loss is -token-mean(A) + beta * KL', () => {
    const ref = [[-1.1, -1.8, -0.5], [-0.3, -0.9, -1.0]];
    const out = run(logp, logp, ref, [2, -1], mask, { beta: 0.04 });
    // pg = -A per token; bnpo mean over 5 tokens: -(2 + 2 - 1 - 1 - 1) / 5 = -0.2
    let klSum = 0;
    for (let i = 0; i < 2; i++) for (let t = 0; t < 3; t++) {
      const d = ref[i][t] - logp[i][t];
      klSum += mask[i][t] * (Math.exp(d) - d - 1);
    }
    expect(out.loss).toBeCloseTo(-0.2 + 0.04 * (klSum / 5), 6);
    expect(out.kl).toBeCloseTo(klSum / 5, 6);
    expect(out.clipLow).toBe(0);
    expect(out.clipHigh).toBe(0);
  });

  it('the k3 KL is 0 when ref = current', () => {
    const out = run(logp, logp, logp, [1, 1], mask, { beta: 0.5 });
    expect(out.kl).toBeCloseTo(0, 7);
    expect(out.loss).toBeCloseTo(-1, 6);
  });

  it('clipping engages exactly where it should', () => {
    // ratios per token (logp - old = ln r): row 0 A = +1: r = 1.5 (clipped high), 1.1 (inside); row 1 A = -1: r = 0.5 (clipped low), 1.5 (not clipped: min picks r*A)
    const l = Math.log;
    const cur = [[l(1.5), l(1.1)], [l(0.5), l(1.5)]];
    const old = [[0, 0], [0, 0]];
    const out = run(cur, old, null, [1, -1], [[1, 1], [1, 1]], { epsilon: 0.2 });
    // per token: -min(1.5, 1.2) = -1.2; -min(1.1, 1.1) = -1.1; -min(-0.5, -0.8) = 0.8; -min(-1.5, -1.2) = 1.5
    expect(out.loss).toBeCloseTo((-1.2 - 1.1 + 0.8 + 1.5) / 4, 6);
    expect(out.clipHigh).toBeCloseTo(1 / 4, 6); // token (0,0)
    expect(out.clipLow).toBeCloseTo(1 / 4, 6); // token (1,0)
  });

  it('epsilon_high widens the upper clip only', () => {
    const out = run([[Math.log(1.5)]], [[0]], null, [1], [[1]], { epsilon: 0.2, epsilon_high: 0.6 });
    expect(out.loss).toBeCloseTo(-1.5, 6);
    expect(out.clipHigh).toBe(0);
  });

  it('the three aggregations on a hand-built batch', () => {
    // ratio 1, beta 0: per-token loss = -A. Row 0 (A=1) has 1 token, row 1 (A=3) has 3 tokens.
    const z = [[0, 0, 0], [0, 0, 0]];
    const m = [[1, 0, 0], [1, 1, 1]];
    expect(run(z, z, null, [1, 3], m, { loss_type: 'bnpo' }).loss).toBeCloseTo(-(1 + 9) / 4, 6);
    expect(run(z, z, null, [1, 3], m, { loss_type: 'grpo' }).loss).toBeCloseTo(-(1 + 3) / 2, 6);
    expect(run(z, z, null, [1, 3], m, { loss_type: 'dr_grpo' }).loss).toBeCloseTo(-(1 + 9) / (2 * 3), 6);
  });

  it('the gradient of the clipped surrogate vanishes on clipped tokens', () => {
    const g = tf.tidy(() => {
      const cur = tf.tensor2d([[Math.log(1.5), Math.log(1.1)]]);
      const f = (x: tf.Tensor) =>
        policyLoss({ logp: x as tf.Tensor2D, oldLogp: tf.zeros([1, 2]), refLogp: null, advantages: tf.tensor1d([1]), completionMask: tf.ones([1, 2]) }, opts).loss;
      return tf.grad(f)(cur).arraySync() as number[][];
    });
    expect(g[0][0]).toBe(0); // clipped: constant 1.2 * A
    expect(g[0][1]).toBeCloseTo(-1.1 / 2, 6); // d/dx of -exp(x) * A / 2 tokens at x = ln 1.1
  });

  it('per-token advantages [N, Lg] (credit: process) weight each token; a constant row equals the [N] form', () => {
    const old = [[-1.2, -1.9, -0.5], [-0.1, -0.9, -1.0]];
    const perRow = run(logp, old, null, [2, -1], mask);
    const perToken = tf.tidy(() => policyLoss(
      { logp: tf.tensor2d(logp), oldLogp: tf.tensor2d(old), refLogp: null, advantages: tf.tensor2d([[2, 2, 2], [-1, -1, -1]]), completionMask: tf.tensor2d(mask) },
      opts,
    ).loss.arraySync());
    expect(perToken).toBeCloseTo(perRow.loss, 6);
    // With old = current, bnpo loss = −(Σ A·m)/Σ m: A only on token (0, 1) and (1, 2) -> −(3 − 1)/5.
    const sparse = tf.tidy(() => policyLoss(
      { logp: tf.tensor2d(logp), oldLogp: tf.tensor2d(logp), refLogp: null, advantages: tf.tensor2d([[0, 3, 0], [0, 0, -1]]), completionMask: tf.tensor2d(mask) },
      opts,
    ).loss.arraySync());
    expect(sparse).toBeCloseTo(-2 / 5, 6);
  });

  it('parts: disjoint token subsets give losses and reports that sum to the whole, with no NaN from the tokens left out', () => {
    const old = [[-1.2, -1.9, -0.5], [-0.1, -0.9, -1.0]];
    const ref = [[-1.1, -1.8, -0.6], [-0.3, -0.9, -1.0]];
    const partA = [[1, 0, 1], [0, 1, 0]];
    const partB = partA.map((r) => r.map((x) => 1 - x));
    for (const loss_type of ['bnpo', 'grpo', 'dr_grpo'] as const) {
      const o = { ...opts, beta: 0.04, loss_type };
      const whole = run(logp, old, ref, [2, -1], mask, o);
      // Outside its part a pass's logp is 0 (trajectoryLogProbs with `pass`), and here old = −100 there: exp(100)
      // would overflow the ratio; the part must replace it by old, not multiply an Inf by 0.
      const parts = [partA, partB].map((part) => tf.tidy(() => {
        const lp = tf.tensor2d(logp.map((r, i) => r.map((v, t) => (part[i][t] ? v : 0))));
        const od = tf.tensor2d(old.map((r, i) => r.map((v, t) => (part[i][t] ? v : -100))));
        const f = (x: tf.Tensor2D) => policyLoss({ logp: x, oldLogp: od, refLogp: tf.tensor2d(ref), advantages: tf.tensor1d([2, -1]), completionMask: tf.tensor2d(mask), part: tf.tensor2d(part) }, o);
        const g = tf.grad((x: tf.Tensor) => f(x as tf.Tensor2D).loss)(lp).arraySync() as number[][];
        const out = f(lp);
        return { loss: out.loss.arraySync(), kl: out.kl.arraySync(), clipLow: out.clipLow.arraySync(), clipHigh: out.clipHigh.arraySync(), g };
      }));
      expect(parts[0].loss + parts[1].loss).toBeCloseTo(whole.loss, 6);
      expect(parts[0].kl + parts[1].kl).toBeCloseTo(whole.kl, 6);
      expect(parts[0].clipLow + parts[1].clipLow).toBeCloseTo(whole.clipLow, 6);
      expect(parts[0].clipHigh + parts[1].clipHigh).toBeCloseTo(whole.clipHigh, 6);
      const wholeGrad = tf.tidy(() => tf.grad((x: tf.Tensor) => policyLoss(
        { logp: x as tf.Tensor2D, oldLogp: tf.tensor2d(old), refLogp: tf.tensor2d(ref), advantages: tf.tensor1d([2, -1]), completionMask: tf.tensor2d(mask) }, o,
      ).loss)(tf.tensor2d(logp)).arraySync() as number[][]);
      wholeGrad.forEach((row, i) => row.forEach((v, t) => {
        const [inA, inB] = [parts[0].g[i][t], parts[1].g[i][t]];
        expect(Number.isFinite(inA) && Number.isFinite(inB)).toBe(true);
        expect(Math.abs(partA[i][t] ? inB : inA)).toBe(0); // no gradient outside a part
        expect(inA + inB).toBeCloseTo(v, 6);
      }));
    }
  });

  it('rejects mismatched shapes by name', () => {
    expect(() => run([[0, 0]], [[0]], null, [1], [[1, 1]])).toThrow('policyLoss: oldLogp expected [N, Lg] = [1, 2], got [1, 1]');
  });
});

describe('completionMask', () => {
  it('covers tokens up to and including the first EOS', () => {
    const m = completionMask([[5, 6, 1, 1], [5, 5, 5, 5], [1, 7, 1, 7]], 1);
    expect(m.map((r) => Array.from(r))).toEqual([[1, 1, 1, 0], [1, 1, 1, 1], [1, 0, 0, 0]]);
  });
});

describe('policyLoss: importance_sampling_level sequence (GSPO)', () => {
  // Two completions; row 0 has 2 tokens in the mask, row 1 has 3.
  const mask = [[1, 1, 0], [1, 1, 1]];
  const old = [[-1, -2, -0.5], [-0.3, -0.7, -1.2]];

  it('one ratio per completion, exp of the masked mean log-ratio, clipped per completion (hand computation)', () => {
    // log-ratios: row 0 (+0.1, +0.3 | masked-out 5.0), row 1 (−0.6, 0, −0.3)
    const logp = [[-0.9, -1.7, 4.5], [-0.9, -0.7, -1.5]];
    const out = tf.tidy(() => {
      const r = policyLoss(
        { logp: tf.tensor2d(logp), oldLogp: tf.tensor2d(old), refLogp: null, advantages: tf.tensor1d([1, -1]), completionMask: tf.tensor2d(mask) },
        { ...opts, importance_sampling_level: 'sequence' },
      );
      return { loss: r.loss.arraySync(), seq: r.seqRatio!.arraySync(), clipLow: r.clipLow.arraySync(), clipHigh: r.clipHigh.arraySync() };
    });
    const rho0 = Math.exp((0.1 + 0.3) / 2); // 1.2214: above 1 + ε = 1.2, A > 0 → clipped to 1.2
    const rho1 = Math.exp((-0.6 + 0 - 0.3) / 3); // 0.7408: below 1 − ε = 0.8, A < 0 → min(−ρ, −0.8) = −0.8
    const pg0 = -Math.min(rho0 * 1, 1.2 * 1); // −1.2 on each of row 0's 2 tokens
    const pg1 = -Math.min(rho1 * -1, 0.8 * -1); // +0.8 on each of row 1's 3 tokens
    expect(out.loss).toBeCloseTo((2 * pg0 + 3 * pg1) / 5, 6); // bnpo: token mean over the 5 masked tokens
    expect(out.seq).toBeCloseTo((rho0 + rho1) / 2, 6);
    expect(out.clipHigh).toBeCloseTo(2 / 5, 6); // row 0's tokens
    expect(out.clipLow).toBeCloseTo(3 / 5, 6); // row 1's tokens
  });

  it('equals the token level when every token of a completion has the same log-ratio', () => {
    const logp = old.map((row, i) => row.map((v) => v + (i === 0 ? 0.05 : -0.1)));
    const both = (['token', 'sequence'] as const).map((level) =>
      tf.tidy(() => policyLoss({ logp: tf.tensor2d(logp), oldLogp: tf.tensor2d(old), refLogp: null, advantages: tf.tensor1d([1.5, -0.5]), completionMask: tf.tensor2d(mask) }, { ...opts, importance_sampling_level: level }).loss.arraySync()),
    );
    expect(both[1]).toBeCloseTo(both[0], 6);
  });

  it('refuses a part (the sequence ratio couples all tokens)', () => {
    expect(() => tf.tidy(() => policyLoss(
      { logp: tf.tensor2d(old), oldLogp: tf.tensor2d(old), refLogp: null, advantages: tf.tensor1d([1, -1]), completionMask: tf.tensor2d(mask), part: tf.tensor2d(mask) },
      { ...opts, importance_sampling_level: 'sequence' },
    ).loss)).toThrow('takes no part');
  });
});
