"""The warm interpreter: started once per Python interpreter, it imports the shim and the
standard modules an action's entry point needs, then forks one child per python-script run that
st2d asks for. The child is what a cold `python -u <script> args...` would be: its own process
group, working directory, environment, import path, stdout and stderr (two pipes st2d sends
with the request), and the script run as `__main__`.

Protocol, on the Unix stream socket `ST2D_WARM_SOCKET` (one JSON object per line):
  warm -> st2d  {"op": "ready", "pid": P, "preloaded": N}
  st2d -> warm  {"op": "fork", "id": N, "cwd": ..., "env": {...}, "argv": [...]}, with two file
                descriptors (stdout, stderr) attached to the message (SCM_RIGHTS)
  warm -> st2d  {"op": "started", "id": N, "pid": C} or {"op": "failed", "id": N, "error": ...}
                (with "stale": true when preloaded files changed: the run starts cold)
  warm -> st2d  {"op": "exited", "pid": C, "code": E}  (E: exit code, or minus the signal)

With `ST2D_WARM_PRELOAD` (a JSON list of action files: `st2d --python-preload PACK`), it also
imports those action modules once, as a child would (`loader.PRELOADED`), so that a child skips
their import. It then stamps every file of the pack (and of its virtualenv, `ST2D_WARM_WATCH`)
it imported, and the directories they were found in; a fork asked for after any of them changed
is refused as stale (st2d starts that run cold and replaces this interpreter), so no run sees a
module older than its file. A preload that leaves a thread running is undone: the interpreter
starts again without it.

Owns: forking, reaping and preloading. Must not: import pack code but the preloaded actions,
start a thread (a fork copies only the forking thread), or write anything to stdout or stderr
that is not a crash or a preload's problem.
"""
import gc
import importlib
import json
import os
import select
import signal
import socket
import sys
import time
import traceback
import types

# What this loop uses, bound before a green interpreter monkey-patches the modules: the loop
# itself stays plain (blocking select, sockets and waits).
_select = select.select
_socket_class = socket.socket
_recv_fds = socket.recv_fds
_fork = os.fork
_waitpid = os.waitpid
_read = os.read

SHIM_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, SHIM_ROOT)
OWN_PATH = [entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry]

# What the entry points import, imported once here; a child runs its script with them loaded.
# A green interpreter (for sensors) imports sensor_main, which monkey-patches os, select,
# socket, thread and time with eventlet as StackStorm's sensor wrapper does, so its children
# start patched.
if os.environ.get("ST2D_WARM_GREEN") == "1":
    from st2d_shim import sensor_main  # noqa: E402,F401
else:
    from st2d_shim import action_main  # noqa: E402,F401
    # The base class every action imports (st2d's own, standard library only).
    import st2common.runners.base_action  # noqa: E402,F401

    # The stderr handler every action's logging gets; a child sets only its level.
    action_main.configure_logging("WARNING")

# The import path every child starts from: the interpreter's own (standard library, its
# site-packages), without this process's entries; the request's PYTHONPATH goes before it.
BASE_PATH = [entry for entry in sys.path[1:] if entry != SHIM_ROOT and entry not in OWN_PATH]
MAX_FDS = 64
# Above every descriptor a child may have inherited (close_range(2) where Python has it).
MAX_DESCRIPTOR = max(os.sysconf("SC_OPEN_MAX"), 1024)
# Scripts compiled here, by path: (modification time, code).
COMPILED = {}
# What preloading read: (path, stamp) of each file and directory; a fork checks them first.
STAMPS = []
STALE = []


def stamp(path):
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (found.st_ino, found.st_size, found.st_mtime_ns)


def preload(files, roots):
    """Imports the action modules in `files` as their children would (the import path a child
    has, each module's directory appended), then stamps what came from under `roots`."""
    from st2d_shim import loader

    saved_path = list(sys.path)
    before = set(sys.modules)
    # A file written while it was being imported may have been read before the write: anything
    # modified since just before this began counts as changed.
    began = time.time_ns() - 10_000_000
    entry_dir = os.path.join(SHIM_ROOT, "st2d_shim")
    for path in files:
        sys.path[:] = [entry_dir] + OWN_PATH + BASE_PATH
        name = loader.module_name(path)
        previous = sys.modules.get(name)
        try:
            module = loader.load_module(path)
        except BaseException as error:  # noqa: BLE001 - its runs import it, and fail, themselves
            sys.stderr.write("cannot preload %s: %s: %s\n" % (path, type(error).__name__, error))
            module = None
        # The module of an action is its own runs': another action importing that name gets
        # what a cold run of it gets.
        if previous is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = previous
        if module is not None:
            loader.PRELOADED[path] = module
    sys.path[:] = saved_path
    watched = [os.path.join(os.path.abspath(root), "") for root in roots]

    def under(path):
        return any(path.startswith(root) for root in watched)

    read = {os.path.abspath(path) for path in files}
    for name in set(sys.modules) - before:
        path = getattr(sys.modules.get(name), "__file__", None)
        if isinstance(path, str) and under(os.path.abspath(path)):
            read.add(os.path.abspath(path))
    places = {os.path.dirname(path) for path in read}
    places.update(os.path.abspath(entry) for entry in OWN_PATH if under(os.path.abspath(entry)))
    STAMPS[:] = [(path, stamp(path)) for path in sorted(read | places)]
    if any(was is not None and was[2] >= began for _, was in STAMPS):
        STALE.append(True)


def threads():
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


def fresh():
    """Whether every file and directory preloading read is as it was then."""
    if not STALE and any(stamp(path) != was for path, was in STAMPS):
        STALE.append(True)
    return not STALE


def send(sock, message):
    sock.sendall((json.dumps(message) + "\n").encode("utf-8"))


def prepare(request):
    """Makes this process what the child of `request` starts as: its working directory,
    environment, argv and import path. Done before the fork, so that every child does not
    copy the pages this writes; each request sets all of it again, so nothing of one run is
    left for the next."""
    os.chdir(request["cwd"])
    env = request["env"]
    os.environ.clear()
    os.environ.update(env)
    python_path = [entry for entry in env.get("PYTHONPATH", "").split(os.pathsep) if entry]
    argv = request["argv"]
    sys.argv = list(argv)
    sys.path[:] = [os.path.dirname(os.path.abspath(argv[0]))] + python_path + BASE_PATH
    sys.pycache_prefix = env.get("PYTHONPYCACHEPREFIX") or None
    sys.dont_write_bytecode = bool(env.get("PYTHONDONTWRITEBYTECODE"))
    importlib.invalidate_caches()


def child(request, code, stdout_fd, stderr_fd, sock):
    """Becomes the action process (prepared by `prepare`); never returns."""
    try:
        os.setpgid(0, 0)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        sock.close()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(stdout_fd, 1)
        os.dup2(stderr_fd, 2)
        # Nothing else of this process stays open in the child: not the wakeup pipe, and not
        # the pipes of other runs (a child holding one would keep that run's output open).
        os.closerange(3, MAX_DESCRIPTOR)
        hubs = sys.modules.get("eventlet.hubs")
        if hubs is not None:
            # A green interpreter's hub (its epoll descriptor, closed above) is the warm
            # process's: the child starts its own.
            hubs.use_hub()
        main = types.ModuleType("__main__")
        main.__file__ = request["argv"][0]
        main.__builtins__ = __builtins__
        sys.modules["__main__"] = main
        exec(code, main.__dict__)
        sys.stdout.flush()
        sys.stderr.flush()
    except SystemExit as exit_:
        code = exit_.code
        if code is not None and not isinstance(code, int):
            sys.stderr.write("%s\n" % (code,))
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code or 0)
    except BaseException:  # noqa: BLE001 - the traceback is the run's stderr
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    os._exit(0)


def compiled(path):
    """The code of the script at `path`, compiled once here while its file is unchanged."""
    stamp = os.stat(path).st_mtime_ns
    cached = COMPILED.get(path)
    if cached is None or cached[0] != stamp:
        with open(path, "rb") as script:
            cached = (stamp, compile(script.read(), path, "exec"))
        COMPILED[path] = cached
    return cached[1]


def fork(sock, request, fds):
    stdout_fd, stderr_fd = fds
    if STAMPS and not fresh():
        os.close(stdout_fd)
        os.close(stderr_fd)
        send(sock, {"op": "failed", "id": request.get("id"), "stale": True,
                    "error": "the preloaded pack changed on disk"})
        return
    try:
        code = compiled(request["argv"][0])
        prepare(request)
        pid = _fork()
    except (OSError, SyntaxError, ValueError) as error:
        os.close(stdout_fd)
        os.close(stderr_fd)
        send(sock, {"op": "failed", "id": request.get("id"), "error": str(error)})
        return
    if pid == 0:
        child(request, code, stdout_fd, stderr_fd, sock)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass  # the child did it first
    os.close(stdout_fd)
    os.close(stderr_fd)
    send(sock, {"op": "started", "id": request.get("id"), "pid": pid})


def reap(sock):
    while True:
        try:
            pid, status = _waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        send(sock, {"op": "exited", "pid": pid, "code": os.waitstatus_to_exitcode(status)})


def main():
    files = json.loads(os.environ.get("ST2D_WARM_PRELOAD") or "[]")
    if files:
        preload(files, json.loads(os.environ.get("ST2D_WARM_WATCH") or "[]"))
        if threads() > 1:
            # A fork would copy this thread alone: start again, importing no pack code.
            sys.stderr.write("preloading left a thread running; the pack's actions are not preloaded\n")
            sys.stderr.flush()
            env = dict(os.environ)
            del env["ST2D_WARM_PRELOAD"]
            os.execve(sys.executable, [sys.executable, "-u", os.path.abspath(__file__)], env)
    from st2d_shim import loader

    sock = _socket_class(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(os.environ["ST2D_WARM_SOCKET"])
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_read, False)
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    # What is loaded now is shared with every child: the collector leaves it alone, so a
    # child's first collection does not copy every page.
    gc.collect()
    gc.freeze()
    send(sock, {"op": "ready", "pid": os.getpid(), "preloaded": len(loader.PRELOADED)})
    buffer = b""
    pending_fds = []
    while True:
        readable, _, _ = _select([sock, wake_read], [], [])
        if wake_read in readable:
            try:
                while _read(wake_read, 4096):
                    pass
            except BlockingIOError:
                pass
            reap(sock)
        if sock not in readable:
            continue
        data, fds, _, _ = _recv_fds(sock, 1 << 20, MAX_FDS)
        if not data:
            return  # st2d is gone; running children end with their own shim connections
        pending_fds.extend(fds)
        buffer += data
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            request = json.loads(line)
            if request.get("op") == "fork" and len(pending_fds) >= 2:
                fork(sock, request, (pending_fds.pop(0), pending_fds.pop(0)))
            else:
                send(sock, {"op": "failed", "id": request.get("id"), "error": "a fork needs two descriptors"})


if __name__ == "__main__":
    main()
