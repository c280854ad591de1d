import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { pairedDifference } from '../../src/eval/stats.ts';
import { cells, loadPlan, trainerArgs, type StudyPlan } from '../../src/study/plan.ts';
import { runStudy } from '../../src/study/run.ts';
import { fmtTime, markdown, resultRows, writeResults } from '../../src/study/table.ts';
import { DATA_DIR, REPO_ROOT } from '../paths.ts';

const MICRO_MODEL = ['model.d_model=16', 'model.n_layers=1', 'model.n_heads=2', 'model.mlp_hidden=32', 'logging.progress=off'];

function microPlan(outDir: string): StudyPlan {
  return {
    task: 'sudoku', out_dir: outDir, seeds: [0], select: { n: 8, seed: 5 },
    evals: [{ name: 'test', task: 'sudoku', subset: 8, parser: 'lenient', gen_length: 17, block_length: 17, steps: 9 }],
    sft: {
      name: 'sft', config: path.join(REPO_ROOT, 'configs/sudoku-sft.yaml'), save_every: 3,
      set: [...MICRO_MODEL, 'data.num_train=100', 'data.num_eval=16', 'training.batch_size=8', 'training.max_steps=6', 'training.eval_every=0'],
    },
    references: [],
    methods: [{
      name: 'rl', config: path.join(REPO_ROOT, 'configs/sudoku-grpo.yaml'), save_every: 1,
      set: ['logging.progress=off', 'data.num_train=20', 'grpo.prompts_per_step=2', 'grpo.num_generations=2', 'training.max_steps=2', 'training.workers=1', 'sampler.steps=9'],
    }],
  };
}

function writePlan(plan: StudyPlan, dir: string): string {
  const file = path.join(dir, 'plan.yaml');
  fs.writeFileSync(file, stringify(plan));
  return file;
}

describe('study plan', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plan-'));
  it('loads a plan and expands it into cells; RL cells start from their seed\'s SFT checkpoint', () => {
    const plan = loadPlan(writePlan({ ...microPlan(path.join(dir, 'out')), seeds: [0, 3] }, dir));
    const c = cells(plan);
    expect(c.map((x) => x.id)).toEqual(['seed0/sft', 'seed0/rl', 'seed3/sft', 'seed3/rl']);
    const args = trainerArgs(c[3], 'somewhere/step-000006');
    expect(args.slice(0, 2)).toEqual(['--config', plan.methods[0].config]);
    expect(args).toContain(`run.output_dir=${path.join(dir, 'out', 'seed3', 'rl')}`);
    expect(args).toContain('run.seed=3');
    expect(args).toContain('training.save_every=1');
    expect(args).toContain('init_from=somewhere/step-000006');
    expect(() => trainerArgs(c[1], null)).toThrow(/needs its start/);
  });

  it('refuses duplicate names, keys the study sets, a missing config and a bad key, naming them', () => {
    const base = microPlan(path.join(dir, 'out'));
    const bad = (p: unknown) => () => loadPlan(writePlan(p as StudyPlan, dir));
    expect(bad({ ...base, methods: [{ ...base.methods[0], name: 'sft' }] })).toThrow(/run name 'sft' is used twice/);
    expect(bad({ ...base, methods: [{ ...base.methods[0], set: ['run.seed=4'] }] })).toThrow(/methods\.0\.set: 'run\.seed=4' is set by the study/);
    expect(bad({ ...base, sft: { ...base.sft, config: 'nope.yaml' } })).toThrow(/sft\.config: nope\.yaml does not exist/);
    expect(bad({ ...base, select: { n: 0, seed: 1 } })).toThrow(/plan\.yaml: select\.n: /);
    expect(bad({ ...base, seeds: [1, 1] })).toThrow(/a seed is listed twice/);
    expect(bad({ ...base, methods: [{ ...base.methods[0], average_last: 1 }] })).toThrow(/methods\.0\.average_last/);
    expect(bad({ ...base, evals: [{ ...base.evals[0], name: 'Test Set' }] })).toThrow(/evals\.0\.name/);
    expect(bad({ ...base, select: { ...base.select, arithmetic_small: true } })).toThrow(/select\.arithmetic_small: only task 'arithmetic'/);
    expect(bad({ ...base, evals: [{ ...base.evals[0], generated: { n: 4, seed: 1, arithmetic_small: true } }] })).toThrow(/evals\.0\.generated\.arithmetic_small/);
    expect(bad({ ...base, methods: [{ ...base.methods[0], set: ['model.init_from=x'] }] })).toThrow(/methods\.0\.set: 'model\.init_from=x' is set by the study/);
    expect(bad({ ...base, references: [{ ...base.sft, name: 'longer', trainer: 'sft' }] })).toThrow(/references\.0\.trainer: only methods have it/);
    expect(bad({ ...base, methods: [{ ...base.methods[0], start: 'later' }, { ...base.methods[0], name: 'later' }] })).toThrow(/methods\.0\.start: 'later' is not a method listed before 'rl'/);
  });

  it('expands an SFT-continuation method (model.init_from) and a method that starts from another method', () => {
    const base = microPlan(path.join(dir, 'out'));
    const more = { name: 'more-sft', config: base.sft.config, set: base.sft.set, save_every: 3, trainer: 'sft' as const };
    const plan = loadPlan(writePlan({ ...base, methods: [more, { ...base.methods[0], start: 'more-sft' }] }, dir));
    const c = cells(plan);
    expect(c.map((x) => [x.id, x.trainer, x.startId])).toEqual([['seed0/sft', 'sft', null], ['seed0/more-sft', 'sft', 'seed0/sft'], ['seed0/rl', 'grpo', 'seed0/more-sft']]);
    expect(trainerArgs(c[1], 'a/step-000006')).toContain('model.init_from=a/step-000006');
    expect(trainerArgs(c[1], 'a/step-000006')).not.toContain('init_from=a/step-000006');
    expect(trainerArgs(c[2], 'b/step-000003')).toContain('init_from=b/step-000003');
  });
});

describe('yarn study (micro grid)', () => {
  it('trains, selects on the held-out set, evaluates once, tabulates paired gains; reruns reuse; resumes an interrupted run', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'study-'));
    const plan = microPlan(path.join(dir, 'out'));
    const logger = pino({ level: 'silent' });
    const { results, failed } = await runStudy({ plan, dataDir: DATA_DIR, logger });
    expect(failed).toEqual([]);
    expect(results.map((r) => r.cell.id)).toEqual(['seed0/sft', 'seed0/rl']);
    const [sft, rl] = results;
    expect(sft.curve.map((p) => p.step)).toEqual([3, 6]);
    expect(rl.curve.map((p) => p.step)).toEqual([1, 2]);
    for (const r of results) {
      const best = Math.max(...r.curve.map((p) => p.accuracy));
      expect(r.selected.accuracy).toBe(best);
      expect(r.selected.step).toBe(r.curve.find((p) => p.accuracy === best)!.step); // ties: the earliest
      expect(r.evals.test.scores).toHaveLength(8);
    }
    // The held-out set is generated, in the test file's format, and holds no test puzzle.
    const heldout = fs.readFileSync(path.join(plan.out_dir, 'heldout', 'select.csv'), 'utf8').trim().split('\n');
    expect(heldout[0]).toBe('Puzzle,Solution');
    expect(heldout).toHaveLength(9);
    const test = new Set(fs.readFileSync(path.join(DATA_DIR, 'sudoku/4x4_test_sudoku.csv'), 'utf8').split('\n').map((l) => l.split(',')[0]));
    expect(heldout.slice(1).some((l) => test.has(l.split(',')[0]))).toBe(false);
    // The RL run started from the SFT run's selected checkpoint, and its command is recorded.
    const record = JSON.parse(fs.readFileSync(path.join(rl.cell.dir, 'study.json'), 'utf8'));
    expect(record.args).toContain(`init_from=${sft.selected.dir}`);
    expect(record.seconds).toBeGreaterThan(0);
    // The gain is the paired difference over the same test items.
    const rows = resultRows(results);
    const want = pairedDifference(sft.evals.test.scores, rl.evals.test.scores);
    expect(rows[1].evals.test.gain).toEqual(want);
    expect(rows[0].evals.test.gain).toBeUndefined();
    const md = markdown(plan, rows);
    expect(md).toContain('| sft | 0 | ');
    expect(md).toContain(`| rl | 1 | ${(100 * rl.evals.test.summary.accuracy).toFixed(1)} |`);
    writeResults(plan, results);
    expect(JSON.parse(fs.readFileSync(path.join(plan.out_dir, 'results.json'), 'utf8')).rows).toHaveLength(2);

    // A rerun reuses every run and evaluation.
    const final = path.join(rl.cell.dir, 'step-000002', 'model.safetensors');
    const weights = fs.readFileSync(final);
    const { results: again } = await runStudy({ plan, dataDir: DATA_DIR, logger });
    expect(again.map((r) => r.evals.test.summary.accuracy)).toEqual(results.map((r) => r.evals.test.summary.accuracy));
    expect(JSON.parse(fs.readFileSync(path.join(rl.cell.dir, 'study.json'), 'utf8')).seconds).toBe(record.seconds);

    // --only runs fewer cells, but the results still list every finished and scored one (computing nothing).
    const { results: listed } = await runStudy({ plan, dataDir: DATA_DIR, logger, only: ['no-such-cell'] });
    expect(listed.map((r) => r.cell.id)).toEqual(['seed0/sft', 'seed0/rl']);
    expect(listed[1].evals.test.scores).toEqual(rl.evals.test.scores);
    // A whole cell id selects that cell alone, not every id it prefixes (seed0/rl, not seed0/rl-2).
    const two = { ...plan, methods: [...plan.methods, { ...plan.methods[0], name: 'rl-2' }] };
    await runStudy({ plan: two, dataDir: DATA_DIR, logger, only: ['seed0/rl'] });
    expect(fs.existsSync(path.join(plan.out_dir, 'seed0', 'rl-2'))).toBe(false);

    // Interrupted after step 1: the rerun resumes and ends with the same weights.
    fs.rmSync(path.join(rl.cell.dir, 'step-000002'), { recursive: true });
    fs.writeFileSync(path.join(rl.cell.dir, 'latest'), 'step-000001');
    await runStudy({ plan, dataDir: DATA_DIR, logger, only: ['rl'] });
    expect(fs.readFileSync(final).equals(weights)).toBe(true);

    // average_last: the weights averaged over the last 2 checkpoints are one more candidate, scored on the held-out
    // set and selected only if strictly better than every single checkpoint; the training is not repeated.
    const averaged = { ...plan, methods: [{ ...plan.methods[0], average_last: 2 }] };
    const trained = JSON.parse(fs.readFileSync(path.join(rl.cell.dir, 'study.json'), 'utf8')).seconds;
    const { results: withAvg } = await runStudy({ plan: averaged, dataDir: DATA_DIR, logger, only: ['seed0/rl'] });
    const a = withAvg[1];
    expect(a.average!.steps).toEqual([1, 2]);
    expect(a.average!.dir).toBe(path.join(rl.cell.dir, 'average', 'last2'));
    expect(JSON.parse(fs.readFileSync(path.join(a.average!.dir, 'config.json'), 'utf8')).averaged_from).toEqual(['../step-000001', '../step-000002']);
    expect(JSON.parse(fs.readFileSync(path.join(a.average!.dir, 'select.json'), 'utf8')).accuracy).toBe(a.average!.accuracy);
    const bestSingle = Math.max(...a.curve.map((p) => p.accuracy));
    expect(a.selected.accuracy).toBe(Math.max(bestSingle, a.average!.accuracy));
    expect(a.selected.averaged).toEqual(a.average!.accuracy > bestSingle ? [1, 2] : undefined);
    expect(a.selected.dir === a.average!.dir).toBe(a.average!.accuracy > bestSingle);
    expect(JSON.parse(fs.readFileSync(path.join(rl.cell.dir, 'study.json'), 'utf8')).seconds).toBe(trained);
    expect(fs.readFileSync(final).equals(weights)).toBe(true);
    const { results: avgAgain } = await runStudy({ plan: averaged, dataDir: DATA_DIR, logger, only: ['no-such-cell'] });
    expect(avgAgain[1].average).toEqual(a.average); // finished and scored: listed without recomputing
    const avgRow = { ...resultRows(withAvg)[1], averaged: [120, 140, 160, 180, 200], max_steps: 200 };
    expect(markdown(plan, [avgRow])).toContain('| rl | 0 | avg 120–200/200 |');
    await expect(runStudy({ plan: { ...plan, methods: [{ ...plan.methods[0], average_last: 3 }] }, dataDir: DATA_DIR, logger, only: ['seed0/rl'] }))
      .rejects.toThrow(/seed0\/rl: average_last is 3 but .* holds 2 step-\* checkpoint/);

    // A trainer that fails (here: a reward module that does not exist) is reported, and the other cells still run.
    const broken = { ...plan, methods: [...plan.methods, { ...plan.methods[0], name: 'broken', set: [...plan.methods[0].set, 'rewards=[{module: ./no-such-reward.ts}]'] }] };
    const b = await runStudy({ plan: broken, dataDir: DATA_DIR, logger });
    expect(b.results.map((r) => r.cell.id)).toEqual(['seed0/sft', 'seed0/rl']);
    expect(b.failed).toEqual([{ id: 'seed0/broken', log: path.join(plan.out_dir, 'seed0', 'broken', 'train.log') }]);
    expect(fs.readFileSync(b.failed[0].log, 'utf8')).toMatch(/no-such-reward\.ts/);

    // Changing a finished run's settings is refused rather than mixing two runs in one folder.
    const changed = { ...plan, methods: [{ ...plan.methods[0], set: [...plan.methods[0].set, 'optimizer.lr=1e-3'] }] };
    await expect(runStudy({ plan: changed, dataDir: DATA_DIR, logger })).rejects.toThrow(/seed0\/rl: .* was trained with other arguments/);

    // Changing an eval's decoding makes its cached scores stale: selection and test evaluation are recomputed.
    const longer = { ...plan, evals: [{ ...plan.evals[0], steps: 17 }] };
    const { results: relisted } = await runStudy({ plan: longer, dataDir: DATA_DIR, logger, only: ['no-such-cell'] });
    expect(relisted).toEqual([]); // nothing is finished-and-scored with these settings until it is run
    const { results: rescored } = await runStudy({ plan: longer, dataDir: DATA_DIR, logger });
    expect(rescored[1].evals.test.summary.nfe).toBeGreaterThan(rl.evals.test.summary.nfe);
    expect(JSON.parse(fs.readFileSync(path.join(rl.cell.dir, 'step-000001', 'select.json'), 'utf8')).key).toContain('"steps":17');

    // An SFT-continuation method starts from the SFT run's selection (model.init_from), and a method with `start`
    // from that method's selection; --only on the last brings the cells it starts from, and each gain is paired
    // against the run's own start.
    const chained = { ...longer, methods: [
      { name: 'more-sft', config: plan.sft.config, set: plan.sft.set.map((x) => (x.startsWith('training.max_steps=') ? 'training.max_steps=3' : x)), save_every: 3, trainer: 'sft' as const },
      { ...plan.methods[0], name: 'rl-after', start: 'more-sft' },
    ] };
    const ch = await runStudy({ plan: chained, dataDir: DATA_DIR, logger, only: ['seed0/rl-after'] });
    expect(ch.failed).toEqual([]);
    expect(ch.results.map((r) => r.cell.id)).toEqual(['seed0/sft', 'seed0/more-sft', 'seed0/rl-after']);
    const [s0, more, after] = ch.results;
    expect(JSON.parse(fs.readFileSync(path.join(more.cell.dir, 'study.json'), 'utf8')).args).toContain(`model.init_from=${s0.selected.dir}`);
    expect(JSON.parse(fs.readFileSync(path.join(after.cell.dir, 'study.json'), 'utf8')).args).toContain(`init_from=${more.selected.dir}`);
    const chRows = resultRows(ch.results);
    expect(chRows[1].evals.test.gain).toEqual(pairedDifference(s0.evals.test.scores, more.evals.test.scores));
    expect(chRows[2].evals.test.gain).toEqual(pairedDifference(more.evals.test.scores, after.evals.test.scores));
    expect(markdown(chained, chRows)).toContain('| rl-after (from more-sft) | 0 |');

    // An expert-iteration method (`yarn train:ei`) samples from the SFT run's selection on a pool without the
    // selection set, and fine-tunes from it (the micro model solves nothing: the round adds no rows here).
    const select = path.join(plan.out_dir, 'heldout', 'select.csv');
    const ei = { ...longer, methods: [{ name: 'ei', config: plan.sft.config, trainer: 'ei' as const, save_every: 3, set: [
      ...plan.sft.set.map((x) => (x.startsWith('training.max_steps=') ? 'training.max_steps=3' : x)),
      'expert_iteration.pool_size=4', 'expert_iteration.samples=2', 'expert_iteration.gen_length=17', 'expert_iteration.block_length=17',
      'expert_iteration.steps=9', `expert_iteration.exclude=[${select}]`] }] };
    expect(() => loadPlan(writePlan({ ...ei, methods: [{ ...ei.methods[0], set: ei.methods[0].set.slice(0, -1) }] }, dir))).toThrow(/methods\.0\.set: an ei method needs expert_iteration\.exclude=/);
    const e = await runStudy({ plan: ei, dataDir: DATA_DIR, logger, only: ['seed0/ei'] });
    expect(e.failed).toEqual([]);
    const eiCell = e.results.find((r) => r.cell.id === 'seed0/ei')!;
    expect(JSON.parse(fs.readFileSync(path.join(eiCell.cell.dir, 'study.json'), 'utf8')).args).toContain(`model.init_from=${e.results[0].selected.dir}`);
    expect(JSON.parse(fs.readFileSync(path.join(eiCell.cell.dir, 'ei', 'ei.json'), 'utf8'))).toMatchObject({ problems: 4, samples: 8 });
    const selected = new Set(fs.readFileSync(select, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')[0]));
    expect(fs.readFileSync(path.join(eiCell.cell.dir, 'ei', 'pool.csv'), 'utf8').trim().split('\n').slice(1).some((l) => selected.has(l.split(',')[0]))).toBe(false);
    expect(eiCell.curve.map((p) => p.step)).toEqual([3]);
  }, 300_000); // ~35 s on an idle 2-core machine; generous for a loaded one
});

describe('study table times', () => {
  it('rounds to whole seconds before splitting minutes (no "18 min 60 s")', () => {
    expect(fmtTime(1139.6)).toBe('19 min 0 s');
    expect(fmtTime(1139.4)).toBe('18 min 59 s');
    expect(fmtTime(59.6)).toBe('1 min 0 s');
    expect(fmtTime(12.2)).toBe('12 s');
  });
});
