/** grpo.inpaint (IGPO): hint spans, references, the inpainted rollout and its loss mask, trainer runs (1 and 2 workers). */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { Rng } from '../../src/rng.ts';
import { parseConfig } from '../../src/config/load.ts';
import { grpoConfigSchema } from '../../src/config/schema.ts';
import { disposeParams, initParams } from '../../src/model/model.ts';
import { trainGrpo } from '../../src/rl/grpo_trainer.ts';
import { checkInpaintRows, hintPositions, hintRow, referenceAnswer } from '../../src/rl/inpaint.ts';
import { completionMask } from '../../src/rl/objectives/d1_loss.ts';
import type { RewardSource } from '../../src/rewards/types.ts';
import { collectRollout, disposeRollout } from '../../src/rl/rollout.ts';
import { config, modelConfig, quiet, rolloutOptions, saveInitCheckpoint, tmp, tok } from './grpo_helpers.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await saveInitCheckpoint();
});

/** 1 when the completion contains the first 4 digits of the row's solution, else 0 (a fresh tiny model always fails). */
const solutionHit: RewardSource = {
  async score(_prompts, completions, rows) {
    const total = completions.map((c, i) => (c.includes(String(rows[i].solution).slice(0, 4)) ? 1 : 0));
    return { total, perFn: { hit: total } };
  },
};

describe('inpaint hints', () => {
  it('hintPositions fixes round(f·R) tokens in whole spans of chunk_tokens, the last one cut short', () => {
    const rng = new Rng(3);
    for (let c = 0; c < 50; c++) {
      const pos = hintPositions(8, 0.5, [2, 2], rng); // spans {0,1} {2,3} {4,5} {6,7}: two whole ones
      expect(pos).toHaveLength(4);
      for (let j = 0; j < 4; j += 2) expect([pos[j] % 2, pos[j + 1] - pos[j]]).toEqual([0, 1]);
    }
    expect(hintPositions(8, 0, [2, 2], rng)).toEqual([]);
    expect(hintPositions(8, 1, [3, 5], rng)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    for (let c = 0; c < 50; c++) {
      const f = rng.random();
      const pos = hintPositions(13, f, [1, 4], rng);
      expect(pos).toHaveLength(Math.round(13 * f));
      expect(new Set(pos).size).toBe(pos.length);
    }
  });

  it('hintRow lays the reference from the first completion position, cut to Lg; null elsewhere', () => {
    const row = hintRow([5, 6, 7, 8, 9, 10], 4, 0.5, [1, 1], new Rng(1)); // reference cut to 4 tokens, 2 fixed
    expect(row.filter((t) => t !== null)).toHaveLength(2);
    row.forEach((t, k) => t === null || expect(t).toBe([5, 6, 7, 8][k]));
  });

  it('referenceAnswer is the SFT answer text, null when the row has none; checkInpaintRows refuses in one line', () => {
    expect(referenceAnswer('sudoku', { puzzle: '1200340000000000', solution: '1243341221344321' })).toBe('1243341221344321');
    expect(referenceAnswer('sudoku', { puzzle: '1200340000000000' })).toBeNull();
    expect(referenceAnswer('countdown', { numbers: [30, 100, 93], target: 23 })).toBe('<answer>30+93-100</answer>'); // the solver's
    expect(referenceAnswer('gsm8k', { question: 'q', answer: 'a <<1+1=2>>2\n#### 2' })).toBe('<reasoning>\na 2\n</reasoning>\n<answer>\n2\n</answer>\n');
    expect(referenceAnswer('plain', { prompt: 'p' })).toBeNull();
    expect(() => checkInpaintRows('plain', [{ row: { prompt: 'p', answer: 'a' } }, { row: { prompt: 'q' } }])).toThrow(ConfigError);
    expect(() => checkInpaintRows('sudoku', [{ row: { puzzle: '1200340000000000' } }])).toThrow(
      /^grpo\.inpaint needs a reference solution in every prompt row, but data\.task sudoku row 0 has none \(columns: puzzle\); remove grpo\.inpaint or use rows with a solution$/,
    );
  });

  it('config: defaults (IGPO), and fraction, chunk_tokens and members checked with their keys', () => {
    const base = { run: { output_dir: 'x' }, init_from: 'x', data: { task: 'sudoku' }, rewards: [{ name: 'sudoku' }], optimizer: { lr: 1e-3 }, training: { max_steps: 1 } };
    const withInpaint = (inpaint: unknown, g: Record<string, unknown> = {}) => parseConfig({ ...base, grpo: { num_generations: 4, inpaint, ...g } }, grpoConfigSchema);
    expect(parseConfig(base, grpoConfigSchema).grpo.inpaint).toBeNull();
    expect(withInpaint({}).grpo.inpaint).toEqual({ when: 'all_fail', fail_reward: 0, fraction: [0.1, 0.5], members: 1, chunk_tokens: [4, 8] });
    expect(() => withInpaint({ fraction: [0.6, 0.2] })).toThrow('grpo.inpaint.fraction: must be [lo, hi] with lo <= hi');
    expect(() => withInpaint({ fraction: [0.2, 1.5] })).toThrow(/grpo\.inpaint\.fraction/);
    expect(() => withInpaint({ chunk_tokens: [0, 2] })).toThrow(/grpo\.inpaint\.chunk_tokens/);
    expect(() => withInpaint({ members: 5 })).toThrow('grpo.inpaint.members: (5) must be at most grpo.num_generations (4)');
    expect(() => withInpaint({ when: 'zero_std' })).toThrow(/grpo\.inpaint\.when/);
  });
});

describe('inpainted rollout', () => {
  it('an all-fail group: member 0 re-sampled around a fixed span of the solution (prompt unchanged, the rest sampled), out of the loss mask; non-zero advantages', async () => {
    const cfg = modelConfig();
    const params = initParams(cfg);
    const prompts = ['1200=', '0034=', '4100='];
    const rows = prompts.map(() => ({ solution: '1234123412341234' }));
    const source = { next: () => [], reference: (row: Record<string, unknown>) => String(row.solution) };
    const sampler = { sampler: 'llada' as const, gen_length: 8, block_length: 8, steps: 4, temperature: 1 };
    const run = (inpaint: unknown) =>
      collectRollout({ params, cfg }, null, rows, prompts, tok, solutionHit, { sampling: new Rng(4, 's'), masking: new Rng(4, 'm') },
        rolloutOptions({ G: 2, mu: 1, grad_accum: 1, beta: 0, scale_rewards: 'none', sampler, inpaint }), source);
    const plain = await run(null);
    expect(plain.rewards).toEqual([0, 0, 0, 0, 0, 0]); // every group fails as sampled
    const r = await run({ when: 'all_fail', fail_reward: 0, fraction: [0.5, 0.5], members: 1, chunk_tokens: [4, 4] });
    expect(r.fracZeroStd).toBe(1); // measured as sampled
    expect(r.rewards).toEqual([1, 0, 1, 0, 1, 0]);
    expect(r.advantages).toEqual([0.5, -0.5, 0.5, -0.5, 0.5, -0.5]);
    expect(r.dynamic).toEqual({ 'inpaint/groups': 3, 'inpaint/members': 3, 'inpaint/reward_gain': 1 });
    const mb = r.micro[0];
    const ids = mb.ids.arraySync();
    const cmask = mb.completionMask.arraySync();
    const want = completionMask(r.completionIds, cfg.eos_token_id);
    const one = tok.encode('1234');
    for (let g = 0; g < 3; g++) {
      const seq = r.completionIds[2 * g];
      const span = seq.slice(0, 4).join() === one.join() ? 0 : 4; // one whole span of the reference is fixed
      expect(seq.slice(span, span + 4)).toEqual(one);
      expect(seq.every((t) => t !== cfg.mask_token_id)).toBe(true); // the rest sampled
      expect(ids[2 * g].slice(0, 5)).toEqual(tok.encode(prompts[g])); // prompt unchanged
      expect(cmask[2 * g]).toEqual(Array.from(want[2 * g], (m, l) => (l >= span && l < span + 4 ? 0 : m))); // hint out of the loss
      expect(cmask[2 * g + 1]).toEqual(Array.from(want[2 * g + 1]));
      expect(r.completionIds[2 * g + 1]).toEqual(plain.completionIds[2 * g + 1]); // the other member is the one first sampled
    }
    disposeRollout(plain);
    disposeRollout(r);
    disposeParams(params);
  });
});

describe('grpo.inpaint in trainGrpo', () => {
  const make = (dir: string, over: { workers?: number } = {}) => {
    const c = config(dir, { max_steps: 4 });
    c.grpo.inpaint = { when: 'all_fail', fail_reward: 0, fraction: [0.5, 0.5], members: 1, chunk_tokens: [4, 4] };
    c.training.grad_accum = 2;
    if (over.workers) {
      c.training.workers = over.workers;
      c.grpo.zero_std_groups = 'refill'; // with inpainting: refill rounds of 1-3 prompts over 2 workers (empty shards)
    }
    return c;
  };

  for (const workers of [1, 2]) {
    it(`${workers === 1 ? 'one process' : '2 workers, with refill'}: memory flat, inpaint metrics, and resumes exactly (4 = 2 + resume + 2)`, async () => {
      const counts: number[][] = [];
      const metrics: Record<string, number>[] = [];
      const a = await trainGrpo(make(tmp(), { workers }), { logger: quiet, rewardSource: solutionHit, onStep: (s) => { counts.push([s.numTensors, ...s.workerTensors]); metrics.push(s.metrics); } });
      expect(counts[3]).toEqual(counts[1]);
      expect(metrics.reduce((s, m) => s + m['inpaint/members'], 0)).toBeGreaterThan(0);
      expect(metrics.every((m) => Number.isFinite(m['inpaint/reward_gain']) && Number.isFinite(m.loss))).toBe(true);
      if (workers === 2) expect(metrics.reduce((s, m) => s + m['groups/refill_sampled'], 0)).toBeGreaterThan(0);
      const dir = tmp();
      await trainGrpo(make(dir, { workers }), { logger: quiet, rewardSource: solutionHit, stopAfter: 2 });
      const b = await trainGrpo(make(dir, { workers }), { logger: quiet, rewardSource: solutionHit, resume: true });
      for (const k of Object.keys(a.params)) expect(Array.from(b.params[k].dataSync())).toEqual(Array.from(a.params[k].dataSync()));
    });
  }
});
