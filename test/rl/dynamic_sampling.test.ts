/** grpo.zero_std_groups (keep | drop | refill): hand-computed groups and normalisers, the cursor refill, trainer runs. */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { Rng } from '../../src/rng.ts';
import { parseConfig } from '../../src/config/load.ts';
import { grpoConfigSchema } from '../../src/config/schema.ts';
import { disposeParams, initParams } from '../../src/model/model.ts';
import type { BatchSource } from '../../src/rl/dynamic_sampling.ts';
import { trainGrpo } from '../../src/rl/grpo_trainer.ts';
import type { RewardSource } from '../../src/rewards/types.ts';
import { collectRollout, disposeRollout, microLosses } from '../../src/rl/rollout.ts';
import { parallelRollout, RolloutWorkers } from '../../src/rl/workers.ts';
import { weightArrays } from '../../src/engine/parallel.ts';
import { config, countTarget, modelConfig, quiet, rolloutOptions, saveInitCheckpoint, tmp, tok } from './grpo_helpers.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await saveInitCheckpoint();
});

const sampler = { sampler: 'llada' as const, gen_length: 8, block_length: 8, steps: 4, temperature: 1 };

/**
 * Scripted reward: a prompt starting with '9' scores 0.5 for every completion (a flat group); any other prompt
 * scores 0 and 1 for its two completions (G = 2, so member i % 2), a group with spread.
 */
const scripted: RewardSource = {
  async score(prompts) {
    const total = prompts.map((p, i) => (p.startsWith('9') ? 0.5 : i % 2));
    return { total, perFn: { scripted: total } };
  },
};

/** A BatchSource over a fixed list of prompts, handed out in order (the test's data cursor). */
function listSource(prompts: string[]): BatchSource & { taken: number } {
  const s = {
    taken: 0,
    next(n: number) {
      const out = prompts.slice(s.taken, s.taken + n).map((prompt) => ({ row: {}, prompt }));
      s.taken += n;
      return out;
    },
    reference: () => null,
  };
  return s;
}

async function rollout(prompts: string[], over: Record<string, unknown>, source: BatchSource | null = null) {
  const cfg = modelConfig();
  const params = initParams(cfg);
  const o = rolloutOptions({ G: 2, mu: 1, grad_accum: 2, beta: 0, scale_rewards: 'none', sampler, ...over });
  const r = await collectRollout({ params, cfg }, null, prompts.map(() => ({})), prompts, tok, scripted, { sampling: new Rng(1, 's'), masking: new Rng(1, 'm') }, o, source);
  return { cfg, params, o, r };
}

describe('grpo.zero_std_groups', () => {
  it('config: defaults keep and 2 rounds; unknown values refused with the key', () => {
    const base = { run: { output_dir: 'x' }, init_from: 'x', data: { task: 'sudoku' }, rewards: [{ name: 'sudoku' }], optimizer: { lr: 1e-3 }, training: { max_steps: 1 } };
    const c = parseConfig(base, grpoConfigSchema);
    expect([c.grpo.zero_std_groups, c.grpo.zero_std_refill_rounds]).toEqual(['keep', 2]);
    expect(() => parseConfig({ ...base, grpo: { zero_std_groups: 'skip' } }, grpoConfigSchema)).toThrow(/grpo\.zero_std_groups/);
    expect(() => parseConfig({ ...base, grpo: { zero_std_refill_rounds: 0 } }, grpoConfigSchema)).toThrow(ConfigError);
  });

  it('drop: the flat groups (1 and 3) leave the loss; each micro-batch holds one kept group; metrics count them', async () => {
    const { params, r } = await rollout(['1200=', '9111=', '0034=', '9222='], { zero_std_groups: 'drop' });
    expect(r.rewards).toEqual([0, 1, 0.5, 0.5, 0, 1, 0.5, 0.5]);
    expect(r.fracZeroStd).toBe(0.5);
    expect(r.numMicro).toBe(2);
    expect(r.micro.map((mb) => [mb.start, mb.end])).toEqual([[0, 2], [2, 4]]); // rows of the kept groups, re-indexed
    expect(r.micro.map((mb) => Array.from(mb.advantages.dataSync()))).toEqual([[-0.5, 0.5], [-0.5, 0.5]]);
    expect(r.micro[1].ids.arraySync()[0].slice(0, 5)).toEqual(tok.encode('0034=')); // group 2's prompt, not group 1's
    expect(r.dynamic).toEqual({ 'groups/zero_std': 2, 'groups/dropped': 2, 'groups/refilled': 0, 'groups/refill_sampled': 0 });
    expect(r.prompts).toHaveLength(8); // metrics and the rollout log still see every group
    disposeRollout(r);
    disposeParams(params);
  });

  it('drop: the loss normalisers count only kept groups (μ = 1, β = 0: per-token loss −A), for each loss_type', async () => {
    const prompts = ['1200=', '9111=', '0034=', '9222='];
    for (const loss_type of ['bnpo', 'grpo', 'dr_grpo'] as const) {
      const { cfg, params, o, r } = await rollout(prompts, { zero_std_groups: 'drop', loss_type, grad_accum: 1 });
      expect(r.numMicro).toBe(1);
      const kept = [0, 1, 4, 5]; // rows of groups 0 and 2
      const A = kept.map((i) => r.advantages[i]);
      const len = kept.map((i) => r.completionLengths[i]);
      const want = {
        bnpo: -A.reduce((s, a, j) => s + a * len[j], 0) / len.reduce((s, x) => s + x, 0),
        grpo: -A.reduce((s, a) => s + a, 0) / kept.length,
        dr_grpo: -A.reduce((s, a, j) => s + a * len[j], 0) / (kept.length * sampler.gen_length),
      }[loss_type];
      const got = tf.tidy(() => microLosses(params, cfg, r.micro[0], 0, o)[0]().loss.dataSync()[0]);
      expect(got).toBeCloseTo(want, 5);
      disposeRollout(r);
      disposeParams(params);
    }
    // keep, for contrast: the flat groups' tokens sit in the bnpo normaliser, so the same rollout's loss is smaller.
    const keep = await rollout(prompts, { zero_std_groups: 'keep', grad_accum: 1 });
    const all = keep.r.completionLengths.reduce((s, x) => s + x, 0);
    const num = -[0, 1, 4, 5].reduce((s, i) => s + keep.r.advantages[i] * keep.r.completionLengths[i], 0);
    expect(tf.tidy(() => microLosses(keep.params, keep.cfg, keep.r.micro[0], 0, keep.o)[0]().loss.dataSync()[0])).toBeCloseTo(num / all, 5);
    disposeRollout(keep.r);
    disposeParams(keep.params);
  });

  it('drop: an all-flat batch has no micro-batch (the trainer skips the update)', async () => {
    const { params, r } = await rollout(['9111=', '9222='], { zero_std_groups: 'drop' });
    expect([r.numMicro, r.micro.length, r.dynamic['groups/dropped']]).toEqual([0, 0, 2]);
    disposeRollout(r);
    disposeParams(params);
  });

  it('drop with 2 workers: a worker whose whole share is dropped adds a zero gradient (no crash), the other trains', async () => {
    const cfg = modelConfig();
    const params = initParams(cfg);
    const o = rolloutOptions({ G: 2, mu: 1, grad_accum: 2, beta: 0, scale_rewards: 'none', sampler, zero_std_groups: 'drop' });
    const pool = await RolloutWorkers.start(2, { backend: 'cpu', cfg, policy: weightArrays(params), ref: null, rollout: o, numMicro: 1, recompute: false });
    try {
      const prompts = ['9111=', '9222=', '1200=', '9333=']; // one kept group: worker 0's share is empty
      const r = await parallelRollout(pool, { params, cfg }, prompts.map(() => ({})), prompts, tok, scripted, { sampling: new Rng(1, 's'), masking: new Rng(1, 'm') }, o);
      expect([r.numMicro, r.dynamic['groups/dropped']]).toEqual([1, 3]);
      const got = await pool.grads(params, 0);
      expect(Number.isFinite(got.lossSum)).toBe(true);
      expect(Object.values(got.sum).some((g) => g.dataSync().some((x) => x !== 0))).toBe(true);
      tf.dispose(Object.values(got.sum));
    } finally {
      await pool.close();
      disposeParams(params);
    }
  });

  it('refill: flat groups are replaced in order by fresh groups with spread from the cursor, within the round cap', async () => {
    // Batch [A, F, B, F]; the cursor gives F3, C (round 1: C replaces slot 1), then D (round 2: replaces slot 3).
    const fresh = ['9333=', '2200=', '3300=', '4400='];
    const src = listSource(fresh);
    const { params, r } = await rollout(['1200=', '9111=', '0034=', '9222='], { zero_std_groups: 'refill' }, src);
    expect(src.taken).toBe(3);
    expect(r.prompts.filter((_, i) => i % 2 === 0)).toEqual(['1200=', '2200=', '0034=', '3300=']);
    expect(r.dynamic).toEqual({ 'groups/zero_std': 0, 'groups/dropped': 0, 'groups/refilled': 2, 'groups/refill_sampled': 3 });
    expect(r.fracZeroStd).toBe(0.5); // as first sampled, before refilling
    expect(r.numMicro).toBe(2);
    expect(r.advantages).toEqual([-0.5, 0.5, -0.5, 0.5, -0.5, 0.5, -0.5, 0.5]);
    disposeRollout(r);
    disposeParams(params);

    // One round only: F2's slot stays flat (kept).
    const src1 = listSource(fresh);
    const one = await rollout(['1200=', '9111=', '0034=', '9222='], { zero_std_groups: 'refill', zero_std_refill_rounds: 1 }, src1);
    expect(src1.taken).toBe(2);
    expect(one.r.prompts.filter((_, i) => i % 2 === 0)).toEqual(['1200=', '2200=', '0034=', '9222=']);
    expect(one.r.dynamic['groups/zero_std']).toBe(1);
    disposeRollout(one.r);
    disposeParams(one.params);

    // The same cursor and seeds give the same batch (the refill is deterministic).
    const again = await rollout(['1200=', '9111=', '0034=', '9222='], { zero_std_groups: 'refill' }, listSource(fresh));
    const first = await rollout(['1200=', '9111=', '0034=', '9222='], { zero_std_groups: 'refill' }, listSource(fresh));
    expect(again.r.completionIds).toEqual(first.r.completionIds);
    for (const x of [again, first]) {
      disposeRollout(x.r);
      disposeParams(x.params);
    }
  });
});

/** countTarget, but flat (0) for prompts whose puzzle starts with 0 or 1: some groups of every batch are flat. */
const sometimesFlat: RewardSource = {
  async score(prompts, completions, rows) {
    const base = await countTarget.score(prompts, completions, rows);
    const total = base.total.map((v, i) => (/^[01]/.test(prompts[i]) ? 0 : v));
    return { total, perFn: { count_target: total } };
  },
};

describe('grpo.zero_std_groups in trainGrpo', () => {
  for (const mode of ['drop', 'refill'] as const) {
    it(`${mode}: memory flat, metrics logged, and resumes exactly (4 steps = 2 + resume + 2)`, async () => {
      const make = (dir: string) => {
        const c = config(dir, { max_steps: 4 });
        c.grpo.zero_std_groups = mode;
        c.training.grad_accum = 2;
        return c;
      };
      const counts: number[] = [];
      const metrics: Record<string, number>[] = [];
      const a = await trainGrpo(make(tmp()), { logger: quiet, rewardSource: sometimesFlat, onStep: (s) => { counts.push(s.numTensors); metrics.push(s.metrics); } });
      expect(counts[3]).toBe(counts[1]);
      for (const m of metrics) {
        expect(Number.isFinite(m.loss)).toBe(true);
        expect(m['groups/dropped'] + m['groups/refilled']).toBeGreaterThanOrEqual(0);
      }
      const acted = metrics.reduce((s, m) => s + m[mode === 'drop' ? 'groups/dropped' : 'groups/refill_sampled'], 0);
      expect(acted).toBeGreaterThan(0);
      const dir = tmp();
      await trainGrpo(make(dir), { logger: quiet, rewardSource: sometimesFlat, stopAfter: 2 });
      const b = await trainGrpo(make(dir), { logger: quiet, rewardSource: sometimesFlat, resume: true });
      for (const k of Object.keys(a.params)) expect(Array.from(b.params[k].dataSync())).toEqual(Array.from(a.params[k].dataSync()));
    });
  }

  it('drop: a batch with every group flat skips the update: no NaN, weights unchanged, logged', async () => {
    const flat: RewardSource = { async score(p) { return { total: p.map(() => 0), perFn: { zero: p.map(() => 0) } }; } };
    const c = config(tmp(), { max_steps: 2 });
    c.grpo.zero_std_groups = 'drop';
    const init = initParams(modelConfig());
    const metrics: Record<string, number>[] = [];
    const out = await trainGrpo(c, { logger: quiet, rewardSource: flat, onStep: (s) => metrics.push(s.metrics) });
    expect(metrics.map((m) => [m.loss, m.grad_norm, m['groups/skipped_update'], m['groups/dropped']])).toEqual([[0, 0, 1, 4], [0, 0, 1, 4]]);
    for (const k of Object.keys(init)) expect(Array.from(out.params[k].dataSync())).toEqual(Array.from(init[k].dataSync()));
    disposeParams(init);
  });
});
