/**
 * `yarn study --plan configs/study/<name>.yaml [--only d1]`: runs a grid of SFT starts × RL methods × seeds (study/),
 * resumably, and writes <out_dir>/results.md and results.json. Re-running reuses every finished run and evaluation.
 */
import path from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import type { BackendName } from '../backend/backend.ts';
import { resolveDataDir } from '../data/index.ts';
import { createLogger } from '../engine/run_log.ts';
import { ConfigError } from '../errors.ts';
import { loadPlan } from '../study/plan.ts';
import { failOneLine, runMain } from './common.ts';

runMain(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn study')
    .usage('$0 --plan configs/study/sudoku-scarce.yaml [--only NAME ...]')
    .option('plan', { type: 'string', demandOption: true, describe: 'study plan (YAML)' })
    .option('only', { type: 'string', array: true, default: [], describe: 'run only these cells: a whole id (seed1/sft) picks that cell, any other text every id containing it (and the SFT starts they need)' })
    .option('backend', { choices: ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const, default: 'auto' as const, describe: 'backend of the evaluations (each trainer logs its own)' })
    .option('data-dir', { type: 'string', describe: 'data directory (default: $DIFFRL_DATA_DIR, else the repository data/ folder)' })
    .strict()
    .fail(failOneLine('yarn study'))
    .help()
    .parse();
  const plan = loadPlan(argv.plan);
  const logger = createLogger();
  const [{ setupBackend }, { runStudy }, { writeResults }] = await Promise.all([
    import('../backend/backend.ts'), import('../study/run.ts'), import('../study/table.ts'),
  ]);
  await setupBackend(argv.backend as BackendName, (msg, fields) => logger.info(fields, msg));
  const { results, failed } = await runStudy({ plan, dataDir: resolveDataDir(argv['data-dir']), logger, only: argv.only, onResult: (r) => writeResults(plan, r) });
  const md = writeResults(plan, results);
  process.stdout.write(md + '\n');
  // Every run's curves, overlaid (issue 15's report): <out_dir>/report.html.
  if (results.length > 0) {
    const { writeReport } = await import('../report/build.ts');
    const out = path.join(plan.out_dir, 'report.html');
    await writeReport(results.map((r) => r.cell.dir), out, { title: `yarn study --plan ${argv.plan}` });
    logger.info({ report: out }, 'study: report written');
  }
  if (failed.length > 0) {
    throw new ConfigError(`${failed.length} run(s) failed: ${failed.map((f) => `${f.id} (see ${f.log})`).join(', ')}; the table holds the others; re-running resumes them`);
  }
});
