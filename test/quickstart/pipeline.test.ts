import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { runQuickstart } from '../../src/quickstart/pipeline.ts';

// The same pipeline as `yarn quickstart`, on a micro configuration (seconds), so CI guards every stage's wiring.
const micro = {
  setSft: ['model.d_model=16', 'model.n_layers=1', 'model.n_heads=2', 'model.mlp_hidden=32', 'data.num_train=200', 'data.num_eval=16', 'training.batch_size=8', 'training.max_steps=6', 'training.eval_every=0', 'training.log_every=3', 'logging.progress=off'],
  setGrpo: ['data.num_train=50', 'grpo.prompts_per_step=2', 'grpo.num_generations=2', 'grpo.num_iterations=2', 'training.max_steps=2', 'training.save_every=0', 'logging.progress=off', 'sampler.steps=9'],
  subset: 8,
};

describe('quickstart pipeline (micro)', () => {
  it('runs SFT, diffu-GRPO and both evaluations, writes the table and results, and reuses finished stages', async () => {
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'qs-'));
    const logger = pino({ level: 'silent' });
    const first = await runQuickstart({ task: 'sudoku', outDir, logger, ...micro });
    expect(first.sft.n).toBe(8);
    expect(first.grpo.n).toBe(8);
    for (const s of [first.sft, first.grpo]) {
      expect(s.accuracy).toBeGreaterThanOrEqual(0);
      expect(s.accuracy).toBeLessThanOrEqual(1);
      expect(s.ci95[0]).toBeLessThanOrEqual(s.accuracy);
      expect(s.ci95[1]).toBeGreaterThanOrEqual(s.accuracy);
      expect(s.nfe).toBeGreaterThan(0);
    }
    expect(first.table).toMatch(/\| SFT +\| +9 \| +[\d.]+% \| \[/); // the rollout schedule (sudoku-grpo: 9 steps)
    expect(first.table).toMatch(/\| SFT \+ diffu-GRPO +\| +17 \|/); // and the standard one (one token per step)
    expect(first.comparisons.map((c) => c.steps)).toEqual([9, 17]);
    expect(first.comparisons[1].sft.nfe).toBeGreaterThan(first.comparisons[0].sft.nfe);
    expect(fs.existsSync(path.join(outDir, 'eval', 'grpo-standard.jsonl'))).toBe(true);
    expect(fs.existsSync(path.join(outDir, 'results.json'))).toBe(true);
    expect(fs.existsSync(path.join(outDir, 'eval', 'grpo.arrow'))).toBe(true);
    const items = fs.readFileSync(path.join(outDir, 'eval', 'sft.jsonl'), 'utf8').trim().split('\n');
    expect(items).toHaveLength(9); // summary + 8 items
    expect(JSON.parse(items[1])).toHaveProperty('completion');

    // A second run reuses both finished trainings: no new checkpoints appear.
    const before = fs.readdirSync(path.join(outDir, 'grpo')).sort();
    const again = await runQuickstart({ task: 'sudoku', outDir, logger, ...micro });
    expect(fs.readdirSync(path.join(outDir, 'grpo')).sort()).toEqual(before);
    expect(again.grpo.accuracy).toBe(first.grpo.accuracy);
    expect(again.seconds.sft + again.seconds.grpo).toBeLessThan(5);
  });
});

describe('quickstart pipeline, --task countdown (micro)', () => {
  it('runs SFT, diffu-GRPO and the evaluation on d1\'s Countdown test file', async () => {
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'qs-cd-'));
    const r = await runQuickstart({
      task: 'countdown', outDir, logger: pino({ level: 'silent' }), subset: 6,
      setSft: micro.setSft,
      setGrpo: ['data.num_train=50', 'grpo.prompts_per_step=2', 'grpo.num_generations=2', 'grpo.num_iterations=1', 'training.max_steps=1', 'training.save_every=0', 'logging.progress=off', 'sampler.steps=5'],
    });
    expect(r.sft.n).toBe(6);
    expect(r.comparisons.map((c) => c.steps)).toEqual([5, 15]); // configs/countdown-signs-grpo.yaml: 15 tokens
    expect(r.table).toMatch(/^countdown: accuracy on 6 items/);
    const item = JSON.parse(fs.readFileSync(path.join(outDir, 'eval', 'grpo.jsonl'), 'utf8').trim().split('\n')[1]);
    expect(item.prompt).toMatch(/^\d{3},\d{3},\d{3}->\d{3}:$/);
  });
});
