/**
 * The Python guard: a boot script that installs a `sys.addaudithook` hook (PEP 578) and then runs the candidate's
 * `main.py` as `__main__`. Best-effort only: audit hooks cannot be removed from Python, but code that corrupts
 * interpreter memory (crafted bytecode, `marshal`, ...) can get around them. The OS layers in sandbox.ts are the
 * real boundary; this guard makes the common cases fail fast with a clear `PermissionError` in stderr.
 *
 * Blocked (PermissionError):
 * - `open` for writing outside the working directory; for reading outside it, except the interpreter's own
 *   `sys.path` directories (the stdlib, read-only) and /dev/null, /dev/zero, /dev/urandom;
 * - path operations outside the working directory (remove, rename, mkdir, chmod, chdir, shutil.rmtree, ...);
 * - every `socket.*` event, `subprocess.Popen`, `os.system`, `os.exec*`, `os.spawn*`, `os.posix_spawn*`, `os.fork`,
 *   `os.forkpty`, `ctypes.*` (so `import ctypes` fails), `gc.get_referrers`-style introspection;
 * - `os.kill` / `os.killpg` of anything but the process itself.
 */

export const PYTHON_BOOT_FILE = '_sandbox_boot.py';
export const PYTHON_MAIN_FILE = 'main.py';

export const PYTHON_BOOT = String.raw`import sys as _s
with open(${JSON.stringify(PYTHON_MAIN_FILE)}, encoding='utf-8', errors='surrogateescape') as _f:
    _src = _f.read()

def _sbx_install():
    import os
    import os.path as P
    real, fsdecode, getpid = P.realpath, os.fsdecode, os.getpid
    root = real(os.getcwd())
    ro = tuple(sorted({real(p) for p in _s.path if p and P.isdir(p)} - {root}))
    dev = ('/dev/null', '/dev/zero', '/dev/urandom')
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
    blocked = ('socket.', 'subprocess.', 'os.system', 'os.exec', 'os.spawn', 'os.posix_spawn', 'os.fork',
               'os.forkpty', 'os.startfile', 'ctypes.', 'pty.', 'gc.get_', 'sys._current_frames', 'webbrowser.')
    one_path = {'os.remove', 'os.rmdir', 'os.mkdir', 'os.chmod', 'os.chown', 'os.truncate', 'os.utime', 'os.chdir',
                'os.chflags', 'os.lchflags', 'os.setxattr', 'os.removexattr', 'os.mkfifo', 'os.mknod', 'shutil.rmtree',
                'shutil.chown', 'shutil.unpack_archive', 'shutil.make_archive'}
    two_paths = {'os.rename', 'os.link', 'shutil.copyfile', 'shutil.copymode', 'shutil.copystat', 'shutil.copytree',
                 'shutil.move'}
    read_paths = {'os.listdir', 'os.scandir', 'glob.glob', 'os.getxattr', 'os.listxattr'}
    busy = [False]

    def within(p, bases):
        if p is None or isinstance(p, int):
            return True  # None = cwd for listdir; an int is an already-open descriptor
        try:
            r = real(fsdecode(p))
        except Exception:
            return False
        return any(r == b or r.startswith(b.rstrip('/') + '/') for b in bases)

    def deny(event, args):
        raise PermissionError('sandbox: %s%r is not allowed' % (event, tuple(args)[:2]))

    def hook(event, args):
        if busy[0]:
            return
        busy[0] = True
        try:
            if event == 'open':
                path, mode, flags = args
                write = (isinstance(mode, str) and any(c in mode for c in 'wax+')) or bool((flags or 0) & write_flags)
                ok = within(path, (root,)) if write else (within(path, (root,) + ro) or fsdecode(path) in dev)
                if not ok:
                    deny(event, args)
            elif event.startswith(blocked):
                deny(event, args)
            elif event in ('os.kill', 'os.killpg'):
                if event == 'os.killpg' or args[0] != getpid():
                    deny(event, args)
            elif event in one_path:
                if not within(args[0], (root,)):
                    deny(event, args)
            elif event in two_paths:
                if not (within(args[0], (root,)) and within(args[1], (root,))):
                    deny(event, args)
            elif event == 'os.symlink':
                if not within(args[1], (root,)):
                    deny(event, args)
            elif event in read_paths:
                if not within(args[0], (root,) + ro):
                    deny(event, args)
        finally:
            busy[0] = False

    _s.addaudithook(hook)

_sbx_install()
del _sbx_install
import types as _t
_m = _t.ModuleType('__main__')
_m.__file__ = ${JSON.stringify(PYTHON_MAIN_FILE)}
_m.__builtins__ = __builtins__
_s.modules['__main__'] = _m
_s.argv = [${JSON.stringify(PYTHON_MAIN_FILE)}]
_code = compile(_src, ${JSON.stringify(PYTHON_MAIN_FILE)}, 'exec')
del _src, _f, _t
exec(_code, _m.__dict__)
`;
