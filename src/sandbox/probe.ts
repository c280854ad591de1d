/**
 * What this machine lets the sandbox use, probed once (synchronously, on first use) by actually running each layer:
 * - `isolation`: root + `unshare -m -n -p -f` + `setpriv`: the full wrapper (see sandbox.ts) runs a trivial command;
 * - otherwise the pieces that still work alone: `unshare -n` (or `unshare -rn`), `setpriv` to another uid;
 * - the interpreters: Python with `sys.addaudithook`, node with `--experimental-permission`.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Probe {
  python: string | null; // absolute path of the interpreter the sandbox runs
  node: string; // absolute path of node
  isolation: boolean; // mount + pid + network namespaces and a separate uid, all at once
  netns_flags: string[] | null; // fallback only: ['-n'] or ['-rn'] if a network namespace works alone
  setpriv: boolean; // fallback only: root can switch to an unprivileged uid
  python_audit_hook: boolean;
  node_permission_model: boolean;
}

/** The repository this code runs from (this file is src/sandbox/probe.ts). */
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Directories hidden behind an empty read-only tmpfs inside the mount namespace: users' homes and the usual places
 * for services and software, plus the folder that holds this repository (its parent, so sibling checkouts and data
 * are hidden too; the repository itself when the parent is `/`). The temp base (os.tmpdir(), where the candidate's
 * own directory lives) gets a fresh tmpfs of its own, so it and its ancestors are left out here.
 */
export function hiddenDirs(repoRoot = REPO_ROOT, tempBase = os.tmpdir()): string[] {
  const project = path.dirname(repoRoot) === '/' ? repoRoot : path.dirname(repoRoot);
  const covers = (d: string, p: string) => p === d || p.startsWith(d + '/');
  const dirs = ['/root', '/home', '/var/tmp', '/dev/shm', '/srv', '/opt', project].filter((d) => !covers(d, tempBase));
  if (!dirs.includes(project) && !covers(repoRoot, tempBase)) dirs.push(repoRoot);
  return [...new Set(dirs)];
}

/**
 * The isolated wrapper, run as pid 1 of fresh mount/pid/network namespaces (still root there):
 *   $1 dir (the host working dir, also the cwd), $2 uid, $3 cpu s, $4 address space KB, $5 file size in 512-byte
 *   blocks, $6 max processes, $7 tmpfs size KB; the rest is the command.
 * The host dir is copied into a private size-limited tmpfs mounted over the temp base at the same path, so nothing
 * the candidate writes reaches the host; `/` is remounted read-only and hiddenDirs() are covered by empty tmpfs.
 * The candidate runs as a child (not exec) so pid 1 stays a root shell it cannot signal; when pid 1 exits the kernel
 * kills everything left in the pid namespace (also processes that called setsid()).
 */
export function isolatedWrapper(): string {
  const hide = hiddenDirs().map((d) => `'${d.replaceAll("'", "'\\''")}'`).join(' ');
  return [
    'dir=$1; uid=$2; cpu=$3; vkb=$4; fblk=$5; nproc=$6; wkb=$7; shift 7',
    'fail() { echo "sandbox setup failed: $1" >&2; exit 125; }',
    'base=$(dirname "$dir")',
    'mount --make-rprivate / || fail propagation',
    `for d in ${hide}; do if [ -d "$d" ] && [ "$d" != "$base" ]; then mount -t tmpfs -o ro,size=4k,mode=755 tmpfs "$d" || fail "hide $d"; fi; done`,
    'mount -t tmpfs -o "size=${wkb}k,mode=755" tmpfs "$base" || fail tmpfs',
    'mkdir -m 700 "$dir" && cp -R /proc/self/cwd/. "$dir"/ && chown -R "$uid:$uid" "$dir" || fail copy',
    'mount -o remount,bind,ro / || fail remount',
    'cd "$dir" || fail cd',
    '{ ulimit -t "$cpu" && ulimit -v "$vkb" && ulimit -f "$fblk" && { ulimit -u "$nproc" 2>/dev/null || ulimit -p "$nproc"; } && ulimit -c 0 && ulimit -n 256; } || fail ulimit',
    'setpriv --reuid="$uid" --regid="$uid" --clear-groups --nnp --inh-caps=-all --bounding-set=-all -- "$@"',
    'exit $?',
  ].join('\n');
}

export const ISOLATION_FLAGS = ['-m', '-n', '-p', '-f', '--mount-proc', '--kill-child'];

let cached: Probe | null = null;

export function probe(): Probe {
  if (cached === null) cached = runProbes();
  return cached;
}

function ok(cmd: string, args: string[], opts: { cwd?: string; expect?: string } = {}): boolean {
  try {
    const r = spawnSync(cmd, args, { cwd: opts.cwd ?? os.tmpdir(), env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, timeout: 10_000, encoding: 'utf8' });
    return r.status === 0 && (opts.expect === undefined || r.stdout.trim() === opts.expect);
  } catch {
    return false;
  }
}

function findPython(): string | null {
  for (const p of ['/usr/bin/python3', '/usr/local/bin/python3']) if (fs.existsSync(p)) return p;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = path.join(dir, 'python3');
    if (dir && fs.existsSync(p)) return fs.realpathSync(p);
  }
  return null;
}

function runProbes(): Probe {
  const python = findPython();
  const node = process.execPath;
  const root = process.getuid?.() === 0;
  let isolation = false;
  if (root) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbx-probe-'));
    try {
      fs.writeFileSync(path.join(dir, 'probe.txt'), 'sandbox-ok');
      const args = [...ISOLATION_FLAGS, 'sh', '-c', isolatedWrapper(), 'sh', dir, '65534', '5', '1048576', '2048', '16', '1024'];
      // Inside: the copied file is readable, python starts, `/` is read-only and the repository is hidden.
      const py = python === null ? '' : ` && ${python} -I -c pass`;
      const check = `cat probe.txt${py}; touch /etc/.sbx_probe 2>/dev/null && echo ESCAPED; ls '${REPO_ROOT.replaceAll("'", "'\\''")}' 2>/dev/null | head -1`;
      isolation = ok('unshare', [...args, '/bin/sh', '-c', check], { cwd: dir, expect: 'sandbox-ok' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  const netns_flags = isolation ? null : ok('unshare', ['-n', 'true']) ? ['-n'] : ok('unshare', ['-rn', 'true']) ? ['-rn'] : null;
  const setpriv = !isolation && root && ok('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--nnp', 'true']);
  const python_audit_hook = python !== null && ok(python, ['-I', '-c', 'import sys; sys.addaudithook(lambda e, a: None)']);
  const node_permission_model = ok(node, [
    '--no-warnings',
    '--experimental-permission',
    `--allow-fs-read=${os.tmpdir()}`,
    '-e',
    "process.exit(process.permission && !process.permission.has('fs.read', '/etc/hostname') ? 0 : 1)",
  ]);
  return { python, node, isolation, netns_flags, setpriv, python_audit_hook, node_permission_model };
}
