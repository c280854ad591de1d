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
    // Each candidate prints when it started and ended its sleep (one wall clock for every process); the property is the
    // largest number of those intervals that overlap, not the elapsed time, so a loaded machine cannot fail it.
    const sleep = { language: 'python' as const, code: 'import time; a = time.time(); time.sleep(1.5); print(a, time.time())' };
    const maxOverlap = (outs: string[]): number => {
      const spans = outs.map((o) => o.trim().split(/\s+/).map(Number));
      return Math.max(...spans.map(([a]) => spans.filter(([s, e]) => s <= a && a < e).length));
    };
    const t0 = Date.now();
    const two = await Promise.all([1, 2, 3, 4].map(() => runSandboxed(sleep)));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(3000); // two waves of 2 (load only lengthens it)
    expect(two.every((r) => r.status === 'ok')).toBe(true);
    expect(maxOverlap(two.map((r) => r.stdout))).toBeLessThanOrEqual(2); // never a third beside two
    setSandboxConcurrency(4);
    try {
      const four = await Promise.all([1, 2, 3, 4].map(() => runSandboxed(sleep)));
      expect(four.every((r) => r.status === 'ok')).toBe(true);
      expect(maxOverlap(four.map((r) => r.stdout))).toBeGreaterThan(2); // more than the default's 2 at once
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
