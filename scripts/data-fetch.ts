/** `yarn data:fetch [--data-dir DIR] [--strict]`: download the evaluation sets (see src/data/fetch.ts). */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { fetchDatasets } from '../src/data/fetch.ts';

const argv = await yargs(hideBin(process.argv))
  .option('data-dir', { type: 'string', default: process.env.DIFFRL_DATA_DIR ?? 'data', describe: 'where to put the files' })
  .option('strict', { type: 'boolean', default: false, describe: 'refuse files whose SHA-256 differs from the recorded one' })
  .strict()
  .parse();
const results = await fetchDatasets(argv['data-dir'], undefined, { strict: argv.strict });
for (const r of results) console.log(JSON.stringify(r));
const failed = results.filter((r) => r.status === 'failed' || (argv.strict && r.status === 'hash_mismatch'));
if (failed.length > 0) {
  console.error(`${failed.length} file(s) could not be fetched into ${argv['data-dir']}`);
  process.exit(1);
}
console.error(`data ready in ${argv['data-dir']} (set runtime.data_dir or DIFFRL_DATA_DIR to use it)`);
