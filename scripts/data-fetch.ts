/** `yarn data:fetch [--data-dir DIR] [--strict]`: download the evaluation sets (see src/data/fetch.ts). */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { DataError } from '../src/errors.ts';
import { failOneLine, runMain } from '../src/cli/common.ts';
import { fetchDatasets } from '../src/data/fetch.ts';

runMain(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn data:fetch')
    .option('data-dir', { type: 'string', default: process.env.DIFFRL_DATA_DIR ?? 'data', describe: 'where to put the files' })
    .option('strict', { type: 'boolean', default: false, describe: 'refuse files whose SHA-256 differs from the recorded one' })
    .strict()
    .fail(failOneLine('yarn data:fetch'))
    .parse();
  const results = await fetchDatasets(argv['data-dir'], undefined, { strict: argv.strict });
  for (const r of results) console.log(JSON.stringify(r));
  const failed = results.filter((r) => r.status === 'failed' || (argv.strict && r.status === 'hash_mismatch'));
  if (failed.length > 0) throw new DataError(`${failed.length} file(s) could not be fetched into ${argv['data-dir']}`);
  console.error(`data ready in ${argv['data-dir']} (set runtime.data_dir or DIFFRL_DATA_DIR to use it)`);
});
