/**
 * `yarn report RUN_DIR [RUN_DIR ...] [--out report.html] [--trace steps.jsonl ...] [--title T]`: one self-contained
 * HTML file (no network needed to open it) with the curves of every metric the runs logged, overlaid, the eval
 * tables with 95% CIs and paired gains, rollout samples and traced samplings replayed step by step (src/report/).
 */
import fs from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { DataError } from '../errors.ts';
import { writeReport } from '../report/build.ts';
import { failOneLine, runMain } from './common.ts';

runMain(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn report')
    .usage('$0 RUN_DIR [RUN_DIR ...] [--out report.html]')
    .command('$0 <runs..>', 'write an HTML report of one or more runs', (y) => y.positional('runs', { type: 'string', array: true, demandOption: true, describe: 'run directories (metrics.jsonl, eval/, rollouts.arrow, traces/)' }))
    .option('out', { type: 'string', default: 'report.html', describe: 'the HTML file to write' })
    .option('trace', { type: 'string', array: true, default: [] as string[], describe: 'a `yarn sample --trace` file to replay (repeatable)' })
    .option('title', { type: 'string', describe: 'page title (default: the runs\' names)' })
    .strict()
    .fail(failOneLine('yarn report'))
    .help()
    .parse();
  for (const f of argv.trace) if (!fs.existsSync(f)) throw new DataError(`--trace ${f}: file not found`);
  const { data, bytes } = await writeReport(argv.runs as string[], argv.out, { title: argv.title, traces: argv.trace });
  const curves = new Set(data.runs.flatMap((r) => Object.keys(r.metrics).filter((k) => k !== 'step'))).size;
  process.stdout.write(`${argv.out}: ${data.runs.length} run(s), ${curves} metric(s), ${data.evals.length} eval result(s), ${data.rollouts.reduce((n, r) => n + r.rows.length, 0)} rollout row(s), ${data.traces.length} trace(s), ${(bytes / 1024).toFixed(0)} KiB\n`);
});
