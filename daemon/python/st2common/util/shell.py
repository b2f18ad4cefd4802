"""Shell helpers of StackStorm's `st2common.util.shell`: quoting, running a command to
completion, and killing a process's session.

Owns: subprocess use for pack code. Must not: log or print (results are returned).
"""
import os
import shlex
import signal
import subprocess
import sys

__all__ = ["run_command", "kill_process", "quote_unix", "quote_windows"]

PR_SET_PDEATHSIG = 1  # prctl(2): the signal a child gets when its parent dies


def subprocess_module():
    """eventlet's green subprocess in a process eventlet has monkey-patched (a sensor), else
    the standard one."""
    patcher = getattr(sys.modules.get("eventlet"), "patcher", None)
    if patcher is not None and patcher.is_monkey_patched("thread"):
        from eventlet.green import subprocess as green_subprocess
        return green_subprocess
    return subprocess


def check_command_type(cmd):
    if not isinstance(cmd, (list, tuple, str)):
        raise TypeError("Command must be a type of list, tuple, or string, not '%s'." % type(cmd))


def decode(data):
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


def run_command(cmd, stdin=None, stdout=subprocess.PIPE, stderr=subprocess.PIPE, shell=False,
                cwd=None, env=None, close_fds=None):
    """Runs `cmd` (a list, or a string with `shell`) until it ends; returns
    `(exit_code, stdout, stderr)` with the captured streams as text. Without `env` the command
    gets this process's environment."""
    check_command_type(cmd)
    kwargs = {} if close_fds is None else {"close_fds": close_fds}
    process = subprocess_module().Popen(cmd, stdin=stdin, stdout=stdout, stderr=stderr, shell=shell,
                                        cwd=cwd, env=env or os.environ.copy(), **kwargs)
    out, err = process.communicate()
    return process.returncode, decode(out), decode(err)


def kill_process(process):
    """Sends SIGTERM to the session `process` leads (StackStorm runs `pkill -TERM -s <pid>`);
    returns 0 when something was signalled, 1 when nothing was (as pkill)."""
    try:
        if os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, signal.SIGTERM)
        else:
            os.kill(process.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return 1
    return 0


def quote_unix(value):
    """`value` quoted as one word of a POSIX shell command line."""
    return shlex.quote(value)


def quote_windows(value):
    """`value` quoted as one argument of a Windows command line (MS C runtime rules)."""
    return subprocess.list2cmdline([value])


def on_parent_exit(signame):
    """A `preexec_fn` that makes the child get signal `signame` (e.g. "SIGTERM") when its parent
    dies; a no-op where prctl is not available."""
    try:
        import ctypes
        prctl = ctypes.CDLL("libc.so.6").prctl
    except (OSError, AttributeError):
        return lambda: None
    signum = getattr(signal, signame)

    def set_parent_exit_signal():
        result = prctl(PR_SET_PDEATHSIG, signum)
        if result != 0:
            raise OSError("prctl failed with error code %s" % result)

    return set_parent_exit_signal
