/**
 * `yarn export --checkpoint DIR --out OUT [--dtype f32|bf16|f16] [--shard-size 2GB]`: a checkpoint (or run dir) ->
 * the Hugging Face layout LLaDA is published in (checkpoint/hf_export.ts), for LLaDA's modeling code and the PyTorch
 * trainers built on it. Loads no compute backend. Prints what it wrote.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { inspectCheckpoint } from '../config/validate_inputs.ts';
import { exportHf, parseShardSize, type ExportDtype } from '../checkpoint/hf_export.ts';
import { failOneLine, runMain } from './common.ts';

runMain(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn export')
    .usage('$0 --checkpoint DIR --out OUT [--dtype f32|bf16|f16] [--shard-size 2GB]')
    .option('checkpoint', { type: 'string', demandOption: true, describe: 'checkpoint dir, or run dir (follows its latest file)' })
    .option('out', { type: 'string', demandOption: true, describe: 'directory to write (must not exist, or be empty)' })
    .option('dtype', { choices: ['f32', 'bf16', 'f16'] as const, default: 'f32' as const, describe: 'weight dtype: f32 is exact, bf16 / f16 round to nearest even' })
    .option('shard-size', { type: 'string', default: '2GB', describe: 'largest weight file (transformers max_shard_size: 2GB = 2e9 bytes, 2GiB = 2^30)' })
    .strict()
    .fail(failOneLine('yarn export'))
    .help()
    .parse();
  const shardBytes = parseShardSize(argv['shard-size']);
  const { dir } = inspectCheckpoint(argv.checkpoint, '--checkpoint');
  const t0 = performance.now();
  const result = exportHf(dir, argv.out, { dtype: argv.dtype as ExportDtype, shardBytes });
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  process.stdout.write(`exported ${dir} -> ${result.out} (${argv.dtype}, ${result.totalBytes} bytes of weights in ${result.shards.length} file(s): ${result.shards.join(', ')}; ${seconds} s)\n`);
});
