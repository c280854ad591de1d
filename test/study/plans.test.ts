/**
 * Every study plan the repository ships (configs/study/*.yaml) loads, and every cell's trainer config — the base config
 * plus the row's `set` and what the study adds (loadCellConfig; paths relative to the repository root, as `yarn
 * study` reads them) — passes the same validation `yarn study` runs before it trains
 * anything. A row that sets a key its objective does not read (e.g. grpo.trajectory_states under espo) is refused at
 * the study's start for the whole plan, so it is caught here instead.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cells, loadCellConfig, loadPlan } from '../../src/study/plan.ts';
import { REPO_ROOT } from '../paths.ts';

const dir = path.join(REPO_ROOT, 'configs', 'study');
const plans = fs.readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();

describe('configs/study plans', () => {
  it('there are plans to check', () => {
    expect(plans.length).toBeGreaterThanOrEqual(5);
  });
  for (const file of plans) {
    it(`${file}: every cell's config is valid`, () => {
      const plan = loadPlan(path.join(dir, file));
      const all = cells(plan);
      expect(all.some((c) => c.kind === 'method')).toBe(true);
      for (const cell of all) expect(() => loadCellConfig(cell), cell.id).not.toThrow();
    });
  }
});
