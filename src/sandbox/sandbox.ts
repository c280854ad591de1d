/**
 * Run untrusted, model-written Python or JavaScript (code rewards) in a child process that cannot hurt the trainer.
 *
 * Layers, strongest first (`sandboxProtections()` tells which are active on this machine):
 * OS-enforced
 * - process_group_kill: the child is spawned detached (own process group); the whole group gets SIGKILL at the
 *   wall-clock timeout, at the output cap, and after a normal exit (so a grandchild cannot outlive the candidate).
 *   With a separate uid, every process still owned by it is then SIGKILLed (and waited for) before the slot is reused.
 * - rlimits: `ulimit -t` (CPU s) `-v` (address space) `-f` (file size) `-c 0` `-n 256` set by a `sh` wrapper.
 * - nproc_limit: `ulimit -u` — only meaningful with a separate uid (root ignores it; a shared uid would count the
 *   user's other processes), so only on when unprivileged_user is.
 * - pid_namespace: the candidate's processes live in their own pid namespace; when its pid 1 exits or is killed the
 *   kernel kills all of them, including ones that called setsid() to leave the process group.
 * - network_namespace: no interfaces but a down loopback — connect() to 127.0.0.1 fails.
 * - mount_namespace: `/` read-only, the folder holding the repository, /root /home /var/tmp /dev/shm /srv /opt hidden
 *   by empty tmpfs (probe.ts hiddenDirs), the temp
 *   base replaced by a private size-limited tmpfs holding only a copy of the working dir (writes never reach the host).
 * - unprivileged_user: `setpriv` to a per-process, per-slot uid (>= 1e9, no capabilities, no_new_privs), so candidates
 *   cannot signal the trainer, each other, or root-owned processes, and their nproc counts are separate.
 * - minimal environment: PATH, LANG, HOME=TMPDIR=the working dir; nothing inherited.
 * Best-effort (in-process, bypassable by code that corrupts the interpreter)
 * - python_audit_hook: see python_guard.ts (files outside the dir, sockets, subprocess, fork, kill, ctypes).
 * - node_permission_model: `--experimental-permission` with fs read/write limited to the dir; it also denies
 *   child_process, worker_threads and native addons (Node 20).
 * Without root (or without unshare/setpriv) only process_group_kill, rlimits, the best-effort layers and, if
 * `unshare -n`/`-rn` works alone, network_namespace remain.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ISOLATION_FLAGS, isolatedWrapper, probe } from './probe.ts';
import { PYTHON_BOOT, PYTHON_BOOT_FILE, PYTHON_MAIN_FILE } from './python_guard.ts';

export type SandboxLanguage = 'python' | 'javascript';
export type SandboxStatus = 'ok' | 'error' | 'timeout' | 'killed' | 'output_limit';

export interface SandboxOptions {
  language: SandboxLanguage;
  code: string;
  timeoutMs?: number; // wall clock, including interpreter start-up (default 5000)
  memoryMb?: number; // address-space limit; node gets this as --max-old-space-size plus 1 GiB of headroom for V8 (default 512)
  outputLimitBytes?: number; // per stream (stdout, stderr) (default 64 KiB)
  maxProcesses?: number; // RLIMIT_NPROC (processes + threads) of the candidate's uid (default 64)
  languageGuards?: boolean; // tests only: false disables the Python audit hook / node permission model (default true)
}

export interface SandboxResult {
  status: SandboxStatus;
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  ms: number;
}

const DEFAULTS = { timeoutMs: 5000, memoryMb: 512, outputLimitBytes: 64 * 1024, maxProcesses: 64 };
const NODE_HEADROOM_MB = 1024; // V8 reserves ~0.5-1 GiB of address space (code range, cages) before running anything
const WORKDIR_TMPFS_KB = 32 * 1024;
const FILE_SIZE_BYTES = 16 * 1024 * 1024;
const UID_BASE = 1_000_000_000;
const SETUP_FAILED = 125;
const ENV_PATH = '/usr/local/bin:/usr/bin:/bin';

/** The uids this process's candidates run as (one per concurrency slot), when unprivileged_user is active. */
export function sandboxUidRange(): { first: number; last: number } {
  const first = UID_BASE + (process.pid % 65536) * 64;
  return { first, last: first + 63 };
}

export function sandboxProtections(): Record<string, boolean> {
  const p = probe();
  const uid = p.isolation || p.setpriv;
  return {
    process_group_kill: true,
    rlimits: true,
    nproc_limit: uid,
    pid_namespace: p.isolation,
    network_namespace: p.isolation || p.netns_flags !== null,
    mount_namespace: p.isolation,
    unprivileged_user: uid,
    python_audit_hook: p.python_audit_hook,
    node_permission_model: p.node_permission_model,
  };
}

// ---- bounded concurrency: `concurrency` slots, each with its own uid ----
let concurrency = 2;
const inUse = new Set<number>();
const waiting: (() => void)[] = [];

/** Set how many candidates may run at once (default 2, at most 64). */
export function setSandboxConcurrency(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new RangeError(`setSandboxConcurrency: n must be an integer in [1, 64], got ${n}`);
  concurrency = n;
  for (const wake of waiting.splice(0)) wake();
}

async function acquire(): Promise<number> {
  for (;;) {
    for (let s = 0; s < concurrency; s++) {
      if (!inUse.has(s)) {
        inUse.add(s);
        return s;
      }
    }
    await new Promise<void>((r) => waiting.push(r));
  }
}

function release(slot: number): void {
  inUse.delete(slot);
  waiting.shift()?.();
}

/** Never throws: any internal failure comes back as status 'error' with the reason in stderr. */
export async function runSandboxed(opts: SandboxOptions): Promise<SandboxResult> {
  let slot = -1;
  const t0 = Date.now();
  try {
    slot = await acquire();
    return await runInSlot(opts, slot);
  } catch (e) {
    return { status: 'error', exitCode: null, signal: null, stdout: '', stderr: `sandbox internal error: ${String(e)}`, ms: Date.now() - t0 };
  } finally {
    if (slot >= 0) release(slot);
  }
}

async function runInSlot(opts: SandboxOptions, slot: number): Promise<SandboxResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULTS.timeoutMs;
  const memoryMb = opts.memoryMb ?? DEFAULTS.memoryMb;
  const cap = opts.outputLimitBytes ?? DEFAULTS.outputLimitBytes;
  const maxProcesses = opts.maxProcesses ?? DEFAULTS.maxProcesses;
  const guards = opts.languageGuards ?? true;
  const p = probe();
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'sbx-'));
  try {
    let cmd: string[];
    if (opts.language === 'python') {
      if (p.python === null) throw new Error('no python3 interpreter found (looked in /usr/bin, /usr/local/bin, PATH)');
      await fs.promises.writeFile(path.join(dir, PYTHON_MAIN_FILE), opts.code);
      await fs.promises.writeFile(path.join(dir, PYTHON_BOOT_FILE), PYTHON_BOOT);
      cmd = [p.python, '-I', '-B', guards && p.python_audit_hook ? PYTHON_BOOT_FILE : PYTHON_MAIN_FILE];
    } else if (opts.language === 'javascript') {
      await fs.promises.writeFile(path.join(dir, 'main.cjs'), opts.code);
      const perm = guards && p.node_permission_model ? ['--experimental-permission', `--allow-fs-read=${dir}`, `--allow-fs-write=${dir}`] : [];
      cmd = [p.node, '--no-warnings', ...perm, `--max-old-space-size=${memoryMb}`, 'main.cjs'];
    } else {
      throw new Error(`language must be 'python' or 'javascript', got '${String(opts.language)}'`);
    }
    const vkb = (memoryMb + (opts.language === 'javascript' ? NODE_HEADROOM_MB : 0)) * 1024;
    const cpu = Math.max(1, Math.ceil(timeoutMs / 1000) + 1);
    const fblk = Math.ceil(FILE_SIZE_BYTES / 512);
    const uid = sandboxUidRange().first + slot;
    let argv: string[];
    if (p.isolation) {
      argv = ['unshare', ...ISOLATION_FLAGS, 'sh', '-c', isolatedWrapper(), 'sh', dir, String(uid), String(cpu), String(vkb), String(fblk), String(maxProcesses), String(WORKDIR_TMPFS_KB), ...cmd];
    } else {
      const nproc = p.setpriv ? `{ ulimit -u ${maxProcesses} 2>/dev/null || ulimit -p ${maxProcesses}; } && ` : '';
      const drop = p.setpriv ? ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--nnp'] : [];
      if (p.setpriv) await fs.promises.chown(dir, uid, uid);
      const script = `{ ulimit -t ${cpu} && ulimit -v ${vkb} && ulimit -f ${fblk} && ${nproc}ulimit -c 0 && ulimit -n 256; } || exit ${SETUP_FAILED}\n"$@"\nexit $?`;
      argv = [...(p.netns_flags ? ['unshare', ...p.netns_flags] : []), 'sh', '-c', script, 'sh', ...drop, ...cmd];
    }
    const env = { PATH: ENV_PATH, LANG: 'C.UTF-8', HOME: dir, TMPDIR: dir };
    const result = await spawnAndWatch(argv, dir, env, timeoutMs, cap);
    // The slot's uid must be empty before the slot is reused: otherwise dying processes (a pid namespace is torn down
    // asynchronously) would count against the next candidate's nproc limit, and without a pid namespace a grandchild
    // that called setsid() would survive the group kill.
    if (p.isolation || p.setpriv) await sweepUid(uid);
    return result;
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** SIGKILL every process whose owner is `uid` (a sandbox uid, never shared) until none is left, up to 5 s. */
async function sweepUid(uid: number): Promise<void> {
  if (uid < UID_BASE) throw new Error(`sweepUid: refusing to sweep uid ${uid} (not a sandbox uid)`);
  for (let round = 0; round < 250; round++) {
    const names = (await fs.promises.readdir('/proc').catch(() => [] as string[])).filter((n) => /^\d+$/.test(n));
    const owners = await Promise.all(names.map((n) => fs.promises.stat(`/proc/${n}`).then((st) => st.uid, () => -1)));
    const pids = names.filter((_, i) => owners[i] === uid).map(Number);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already (or a zombie waiting for its parent)
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: the group is already gone
  }
}

/** Decode at most `cap` bytes, dropping a UTF-8 character the cut left incomplete. */
function utf8Prefix(buf: Buffer, cap: number): string {
  let end = Math.min(buf.length, cap);
  let lead = end - 1;
  while (lead > 0 && end - lead < 4 && (buf[lead] & 0xc0) === 0x80) lead--; // back over continuation bytes
  if (lead >= 0 && buf[lead] >= 0xc0) {
    const need = buf[lead] >= 0xf0 ? 4 : buf[lead] >= 0xe0 ? 3 : 2;
    if (lead + need > end) end = lead;
  }
  return buf.subarray(0, end).toString('utf8');
}

function signalFromExit(code: number | null): string | null {
  if (code === null || code <= 128 || code >= 128 + 65) return null;
  const n = code - 128;
  return Object.entries(os.constants.signals).find(([, v]) => v === n)?.[0] ?? null;
}

function spawnAndWatch(argv: string[], cwd: string, env: Record<string, string>, timeoutMs: number, cap: number): Promise<SandboxResult> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const out = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
    const bytes = { stdout: 0, stderr: 0 };
    let reason: 'timeout' | 'output_limit' | null = null;
    let done = false;
    let exit: { code: number | null; signal: string | null } | null = null;
    const child = spawn(argv[0], argv.slice(1), { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const finish = (spawnError?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(closeTimer);
      killGroup(child.pid);
      child.stdout?.destroy();
      child.stderr?.destroy();
      const stdout = utf8Prefix(Buffer.concat(out.stdout), cap);
      let stderr = utf8Prefix(Buffer.concat(out.stderr), cap);
      const code = exit?.code ?? null;
      let signal = exit?.signal ?? null;
      let status: SandboxStatus;
      if (spawnError) {
        status = 'error';
        stderr += `\nsandbox spawn failed: ${spawnError.message}`;
      } else if (reason !== null) status = reason;
      else if (signal !== null) status = 'killed';
      else if (code === 0) status = 'ok';
      else if ((signal = signalFromExit(code)) !== null) status = 'killed'; // the wrapper shell reports 128 + signal
      else status = 'error';
      resolve({ status, exitCode: code, signal, stdout, stderr, ms: Date.now() - t0 });
    };
    const timer = setTimeout(() => {
      reason ??= 'timeout';
      killGroup(child.pid);
    }, timeoutMs);
    let closeTimer: NodeJS.Timeout | undefined;
    for (const name of ['stdout', 'stderr'] as const) {
      child[name]!.on('data', (chunk: Buffer) => {
        const room = cap - bytes[name];
        if (chunk.length <= room) {
          out[name].push(chunk);
          bytes[name] += chunk.length;
          return;
        }
        if (room > 0) out[name].push(chunk.subarray(0, room)); // keep at most `cap` bytes; stop reading past it
        bytes[name] = cap;
        reason ??= 'output_limit';
        killGroup(child.pid);
      });
      child[name]!.on('error', () => undefined);
    }
    child.on('error', (e) => finish(e));
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      killGroup(child.pid); // take any grandchild still in the group with it
      closeTimer = setTimeout(() => finish(), 1000); // a process outside the group may hold the pipes open
    });
    child.on('close', () => finish());
  });
}
