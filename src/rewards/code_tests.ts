/**
 * Code reward (d1 / DiffuCoder style): the fraction of a task's unit tests the completion passes, run in the sandbox
 * (src/sandbox). Code = the content of the last ```python / ```py / bare ``` fence (an unclosed last fence runs to the
 * end), else the raw completion.
 *   HumanEval rows (`prompt`, `test`, `entry_point`): prompt + code + "\n" + test + check(entry_point) → 1 or 0
 *     (1 needs exit code 0 and the harness's verdict line after check() returned).
 *   MBPP rows (`test_list`, optional `test_setup_code` / sanitized `test_imports`): imports + code + setup, then each
 *     assert exec'd on its own (its own time slice, failures caught) → passed / total.
 * The harness prints its verdict with a per-call random nonce through an `os.write` captured before the candidate's
 * code runs, so `print("…passed…")`, `sys.exit(0)` or `os._exit(0)` before the tests cannot fake a pass.
 * Known hole (shared with the original harnesses): objects whose __eq__ always returns True pass `assert x == y`.
 * A run that never reaches the verdict scores 0 and counts as a timeout (status 'timeout') or a crash (anything else).
 * args: `timeout_ms` per program (default 5000), `memory_mb` (default 512), `per_test_timeout_ms` (MBPP; default
 * timeout_ms / (number of tests + 1)).
 */
import crypto from 'node:crypto';
import { runSandboxed } from '../sandbox/sandbox.ts';

type Row = Record<string, unknown>;
type Args = { completions: string[]; rows: Row[]; args?: Record<string, unknown>; prompts?: string[] };

const stats = { runs: 0, timeouts: 0, crashes: 0, invalid_rows: 0 };

/** Counters since start (or the last resetCodeStats): sandbox runs, timeouts, crashes (no verdict), unusable rows. */
export function codeStats(): { runs: number; timeouts: number; crashes: number; invalid_rows: number } {
  return { ...stats };
}

export function resetCodeStats(): void {
  Object.assign(stats, { runs: 0, timeouts: 0, crashes: 0, invalid_rows: 0 });
}

/** The last ```python/```py/``` fence's content (an unclosed last fence runs to the end), else the completion. */
export function extractCode(completion: string): string {
  const fence = /```[ \t]*([\w+.-]*)[^\n]*\n([\s\S]*?)(?:```|$(?![\s\S]))/g;
  let code: string | null = null;
  for (const m of completion.matchAll(fence)) {
    const lang = m[1].toLowerCase();
    if (lang === '' || lang === 'python' || lang === 'py' || lang === 'python3') code = m[2];
  }
  return code ?? completion;
}

/** Move `from __future__ import …` lines to the top, where Python requires them (before the harness prelude). */
function splitFuture(code: string): { future: string; rest: string } {
  const future: string[] = [];
  const rest = code.replace(/^from __future__ import [^\n]*$/gm, (line) => {
    future.push(line);
    return '';
  });
  return { future: future.join('\n'), rest };
}

/** Harness prelude: builtins captured before the candidate's code can rebind them. */
const prelude = (n: string) =>
  `import os as _sbx_os_${n}\n_sbx_w_${n}, _sbx_exec_${n}, _sbx_globals_${n} = _sbx_os_${n}.write, exec, globals\n`;
const verdict = (n: string, passed: string, total: number) =>
  `_sbx_w_${n}(1, ('\\n__SBX_${n}__ %d ${total}\\n' % (${passed})).encode())\n`;

export function humanEvalProgram(row: Row, code: string, nonce: string): string {
  const { future, rest } = splitFuture(String(row.prompt) + code);
  return `${future}\n${prelude(nonce)}${rest}\n${String(row.test)}\n
try:
    check(${String(row.entry_point)})
except BaseException:
    ${verdict(nonce, '0', 1)}    raise
${verdict(nonce, '1', 1)}`;
}

export function mbppProgram(row: Row, code: string, nonce: string, perTestSeconds: number): string {
  const tests = testList(row) ?? [];
  const imports = Array.isArray(row.test_imports) ? row.test_imports.map(String).join('\n') : '';
  const { future, rest } = splitFuture(code);
  const n = nonce;
  return `${future}\n${prelude(n)}import signal as _sbx_sig_${n}
${imports}
${rest}
${String(row.test_setup_code ?? '')}
class _SbxTimeout_${n}(BaseException):
    pass
def _sbx_alarm_${n}(signum, frame):
    raise _SbxTimeout_${n}()
_sbx_sig_${n}.signal(_sbx_sig_${n}.SIGALRM, _sbx_alarm_${n})
_sbx_passed_${n} = 0
for _sbx_t_${n} in ${JSON.stringify(tests)}:
    try:
        _sbx_sig_${n}.setitimer(_sbx_sig_${n}.ITIMER_REAL, ${perTestSeconds})
        _sbx_exec_${n}(_sbx_t_${n}, _sbx_globals_${n}())
        _sbx_sig_${n}.setitimer(_sbx_sig_${n}.ITIMER_REAL, 0)
        _sbx_passed_${n} += 1
    except BaseException:
        _sbx_sig_${n}.setitimer(_sbx_sig_${n}.ITIMER_REAL, 0)
${verdict(n, `_sbx_passed_${n}`, tests.length)}`;
}

/** MBPP's `test_list` as strings: an array, any iterable (Arrow vectors) or a JSON array string; null otherwise. */
function testList(row: Row): string[] | null {
  let t = row.test_list;
  if (typeof t === 'string') {
    try {
      t = JSON.parse(t);
    } catch {
      return null;
    }
  }
  if (t !== null && typeof t === 'object' && Symbol.iterator in t) return [...(t as Iterable<unknown>)].map(String);
  return null;
}

/** The harness's verdict `passed / total`, or null if the run never got there. */
export function parseVerdict(stdout: string, nonce: string, total: number): number | null {
  const all = [...stdout.matchAll(new RegExp(`__SBX_${nonce}__ (\\d+) (\\d+)`, 'g'))];
  if (all.length === 0) return null;
  const [passed, tot] = [Number(all[all.length - 1][1]), Number(all[all.length - 1][2])];
  return tot === total && passed <= total ? passed / total : null;
}

async function scoreOne(completion: string, row: Row | undefined, args: Record<string, unknown>): Promise<number> {
  const timeoutMs = Number(args.timeout_ms ?? 5000);
  const memoryMb = Number(args.memory_mb ?? 512);
  const nonce = crypto.randomBytes(8).toString('hex');
  const code = extractCode(completion);
  let program: string;
  let total: number;
  let humanEval = false;
  const tests = row ? testList(row) : null;
  if (row && typeof row.test === 'string' && typeof row.entry_point === 'string' && typeof row.prompt === 'string') {
    program = humanEvalProgram(row, code, nonce);
    total = 1;
    humanEval = true;
  } else if (row && tests !== null && tests.length > 0) {
    total = tests.length;
    const perTestMs = Number(args.per_test_timeout_ms ?? Math.floor(timeoutMs / (total + 1)));
    program = mbppProgram(row, code, nonce, Math.max(0.01, perTestMs / 1000));
  } else {
    stats.invalid_rows++;
    return 0;
  }
  stats.runs++;
  const r = await runSandboxed({ language: 'python', code: program, timeoutMs, memoryMb });
  const score = parseVerdict(r.stdout, nonce, total);
  if (score === null) {
    if (r.status === 'timeout') stats.timeouts++;
    else stats.crashes++;
    return 0;
  }
  return humanEval && r.exitCode !== 0 ? 0 : score;
}

/**
 * TRL reward contract: one score in [0, 1] per completion; rows[i] is completion i's dataset row. Never throws
 * (a failure scores 0 and is counted as a crash). Runs are bounded by the sandbox's concurrency (default 2).
 */
export async function codeTestsReward({ completions, rows, args = {} }: Args): Promise<number[]> {
  return Promise.all(
    completions.map(async (c, i) => {
      try {
        return await scoreOne(String(c), rows?.[i], args ?? {});
      } catch {
        stats.crashes++;
        return 0;
      }
    }),
  );
}
