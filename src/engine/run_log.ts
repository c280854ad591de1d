/**
 * What a run tells its user: pino logs (readable on a TTY, JSON lines otherwise), a progress bar on a TTY, and every
 * metrics line appended to `<run dir>/metrics.jsonl`.
 */
import fs from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type Metrics = Record<string, number | string | null>;

export function createLogger(level: string = 'info', tty: boolean = process.stderr.isTTY === true): Logger {
  if (tty) return pino({ level }, pretty({ sync: true, colorize: true, destination: 2, ignore: 'pid,hostname' }));
  return pino({ level, base: undefined }, pino.destination({ dest: 2, sync: true }));
}

export interface RunLog {
  logger: Logger;
  /** Appends one JSON line to metrics.jsonl; logs it too when `echo`. */
  metrics(m: Metrics, echo?: boolean): void;
  /** Moves the progress bar (TTY) to `step` of `total`, showing the given values (e.g. { loss, 'tok/s' }). */
  progress(step: number, fields: Record<string, number>): void;
  close(): void;
}

export function openRunLog(runDir: string, total: number, opts: { logger: Logger; progress: 'auto' | 'on' | 'off'; startStep?: number }): RunLog {
  fs.mkdirSync(runDir, { recursive: true });
  const metricsPath = path.join(runDir, 'metrics.jsonl');
  const showBar = opts.progress === 'on' || (opts.progress === 'auto' && process.stderr.isTTY === true);
  const bar = showBar
    ? new cliProgress.SingleBar(
        {
          format: 'step {value}/{total} |{bar}| {fields} | ETA {eta_formatted}',
          stream: process.stderr,
          hideCursor: true,
          etaBuffer: 20,
        },
        cliProgress.Presets.shades_classic,
      )
    : null;
  bar?.start(total, opts.startStep ?? 0, { fields: '' });
  const fmt = (v: number) => (Math.abs(v) >= 100 ? Math.round(v).toString() : v.toPrecision(3));
  const logger = opts.logger;
  return {
    logger,
    metrics(m, echo = true) {
      fs.appendFileSync(metricsPath, JSON.stringify(m) + '\n');
      if (echo) {
        // Keep the bar on its own line: clear it, log, redraw.
        if (bar) process.stderr.write('\r\x1b[K');
        logger.info(m, 'metrics');
      }
    },
    progress(step, f) {
      bar?.update(step, { fields: Object.entries(f).map(([k, v]) => `${k} ${fmt(v)}`).join(' | ') });
    },
    close() {
      bar?.stop();
    },
  };
}
