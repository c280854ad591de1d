/**
 * `yarn playground --checkpoint DIR [--port N]`: serves a page on 127.0.0.1 in which the checkpoint runs in the
 * browser (tfjs: webgl where it works, else wasm) and two samplers unmask a completion of the same prompt side by
 * side (src/playground/). Stops on Ctrl-C.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { inspectCheckpoint } from '../config/validate_inputs.ts';
import { playgroundInfo, startPlayground } from '../playground/server.ts';
import { checkNumbers, failOneLine, runMain } from './common.ts';

runMain(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn playground')
    .usage('$0 --checkpoint DIR [--port 8080]')
    .option('checkpoint', { type: 'string', demandOption: true, describe: 'checkpoint dir, or run dir (follows its latest file)' })
    .option('port', { type: 'number', default: 8080, describe: 'port on 127.0.0.1 (0 = any free port)' })
    .strict()
    .fail(failOneLine('yarn playground'))
    .help()
    .parse();
  checkNumbers(argv, { port: { int: true, min: 0, max: 65535 } });
  const { dir, config } = inspectCheckpoint(argv.checkpoint, '--checkpoint');
  const server = await startPlayground({ checkpointDir: dir, port: argv.port, info: playgroundInfo(dir, config.max_seq_len) });
  process.stdout.write(`playground for ${dir} at ${server.url} (loopback only; Ctrl-C stops it)\n`);
  await new Promise<void>((resolve) => process.once('SIGINT', resolve));
  await server.close();
});
