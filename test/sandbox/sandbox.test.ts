import { describe, expect, it } from 'vitest';
import { runSandboxed, sandboxProtections, setSandboxConcurrency } from '../../src/sandbox/sandbox.ts';
import { hiddenDirs } from '../../src/sandbox/probe.ts';

describe('runSandboxed: ordinary programs', () => {
  it('reports which protections are active, all as booleans, with the OS basics always on', () => {
    const p = sandboxProtections();
    for (const k of ['process_group_kill', 'rlimits', 'nproc_limit', 'pid_namespace', 'network_namespace', 'mount_namespace', 'unprivileged_user', 'python_audit_hook', 'node_permission_model']) {
      expect(typeof p[k]).toBe('boolean');
    }
    expect(p.process_group_kill && p.rlimits).toBe(true);
  });

  it('runs Python: stdout, stderr, exit code, stdlib imports and files in its own directory', async () => {
    const code = [
      'import sys, os, json, math, re, collections, heapq, itertools, random, hashlib, typing, functools',
      'open("a.txt", "w").write("hello")',
      'print(open("a.txt").read(), math.comb(5, 2), json.dumps([1]))',
      'print("warn", file=sys.stderr)',
      'sys.exit(3)',
    ].join('\n');
    const r = await runSandboxed({ language: 'python', code });
    expect(r).toMatchObject({ status: 'error', exitCode: 3, signal: null, stdout: 'hello 10 [1]\n', stderr: 'warn\n' });
    expect(r.ms).toBeGreaterThan(0);
  });

  it('runs Python with exit 0 as ok, and a syntax error as error with the traceback in stderr', async () => {
    expect(await runSandboxed({ language: 'python', code: 'print(sum(range(10)))' })).toMatchObject({ status: 'ok', exitCode: 0, stdout: '45\n' });
    const bad = await runSandboxed({ language: 'python', code: 'def f(:\n  pass' });
    expect(bad.status).toBe('error');
    expect(bad.stderr).toContain('SyntaxError');
  });

  it('runs JavaScript (CommonJS) with fs access inside its directory', async () => {
    const code = 'const fs = require("fs"); fs.writeFileSync("b.txt", "x".repeat(3)); console.log(fs.readFileSync("b.txt", "utf8").length); process.exitCode = 0;';
    expect(await runSandboxed({ language: 'javascript', code })).toMatchObject({ status: 'ok', exitCode: 0, stdout: '3\n' });
  });

  it('never throws: an unknown language comes back as status error', async () => {
    const r = await runSandboxed({ language: 'ruby' as 'python', code: 'puts 1' });
    expect(r.status).toBe('error');
    expect(r.stderr).toContain("language must be 'python' or 'javascript'");
  });

  it('output exactly at the cap is not an output_limit; one byte more is', async () => {
    const at = await runSandboxed({ language: 'python', code: 'import sys; sys.stdout.write("y" * 100)', outputLimitBytes: 100 });
    expect(at).toMatchObject({ status: 'ok', stdout: 'y'.repeat(100) });
    const over = await runSandboxed({ language: 'python', code: 'import sys; sys.stdout.write("y" * 101)', outputLimitBytes: 100 });
    expect(over.status).toBe('output_limit');
    expect(over.stdout).toBe('y'.repeat(100));
  });

  it('does not split a UTF-8 character at the cap', async () => {
    const r = await runSandboxed({ language: 'python', code: 'import sys; sys.stdout.write("é" * 100)', outputLimitBytes: 7 });
    expect(r.status).toBe('output_limit');
    expect(r.stdout).toBe('ééé'); // 6 bytes: the 4th "é" would straddle byte 7
  });

  it('runs at most `concurrency` candidates at once (default 2)', async () => {
    // 1 s sleeps: one wave is told from two by a full second, more than the start-up of 4 Pythons on a loaded CI core.
    const sleep = { language: 'python' as const, code: 'import time; time.sleep(1.0)' };
    let t0 = Date.now();
    await Promise.all([1, 2, 3, 4].map(() => runSandboxed(sleep)));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2000); // two waves of 2
    setSandboxConcurrency(4);
    try {
      t0 = Date.now();
      const rs = await Promise.all([1, 2, 3, 4].map(() => runSandboxed(sleep)));
      expect(rs.every((r) => r.status === 'ok')).toBe(true);
      expect(Date.now() - t0).toBeLessThan(2000); // one wave (plus start-up), not two
    } finally {
      setSandboxConcurrency(2);
    }
    expect(() => setSandboxConcurrency(0)).toThrow(/\[1, 64\]/);
  });
});

describe('hiddenDirs: what the mount namespace covers', () => {
  it("hides the folder holding the repository, never the temp base or one of its ancestors", () => {
    expect(hiddenDirs('/srv/checkouts/proj', '/tmp')).toEqual(['/root', '/home', '/var/tmp', '/dev/shm', '/srv', '/opt', '/srv/checkouts']);
    // a repository at the top level: the repository itself
    expect(hiddenDirs('/proj', '/tmp')).toContain('/proj');
    expect(hiddenDirs('/proj', '/tmp')).not.toContain('/');
    // the temp base inside the repository's parent: the parent is left out, the repository is hidden
    const d = hiddenDirs('/a/proj', '/a/tmp');
    expect(d).not.toContain('/a');
    expect(d).toContain('/a/proj');
    // the temp base /var/tmp itself is never covered
    expect(hiddenDirs('/x/proj', '/var/tmp')).not.toContain('/var/tmp');
  });
});
