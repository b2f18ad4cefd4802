"""`run_command` with a timeout, as StackStorm's `st2common.util.green.shell`: returns
`(exit_code, stdout, stderr, timed_out)`, the exit code -9 on a timeout.

Owns: running a command with a deadline and optional live readers. Must not: leave the process
running after a timeout.
"""
import os
import subprocess
import threading

from st2common.util.shell import check_command_type, subprocess_module

__all__ = ["run_command"]

TIMEOUT_EXIT_CODE = -9


def run_command(cmd, stdin=None, stdout=subprocess.PIPE, stderr=subprocess.PIPE, shell=False,
                cwd=None, env=None, timeout=60, preexec_func=None, kill_func=None,
                read_stdout_func=None, read_stderr_func=None, read_stdout_buffer=None,
                read_stderr_buffer=None, stdin_value=None, bufsize=0):
    """Runs `cmd` for at most `timeout` seconds. After the timeout the process is killed with
    `kill_func(process=...)` (default `process.kill()`; give one that kills the whole group when
    `shell`). Captured output is bytes, as StackStorm returns it, unless `read_stdout_func` and
    `read_stderr_func` read the streams live (`func(stream, buffer)`, run in threads): then the
    outputs are the buffers' `getvalue()`."""
    check_command_type(cmd)
    if bool(read_stdout_func) != bool(read_stderr_func):
        raise ValueError("Both read_stdout_func and read_stderr_func arguments need to be provided.")
    if read_stdout_func and not (read_stdout_buffer or read_stderr_buffer):
        raise ValueError("read_stdout_buffer and read_stderr_buffer arguments need to be provided "
                         "when read_stdout_func is provided")
    module = subprocess_module()
    process = module.Popen(cmd, stdin=stdin, stdout=stdout, stderr=stderr, env=env or os.environ.copy(),
                           cwd=cwd, shell=shell, preexec_fn=preexec_func, bufsize=bufsize)
    readers = []
    if read_stdout_func:
        for func, stream, buffer in ((read_stdout_func, process.stdout, read_stdout_buffer),
                                     (read_stderr_func, process.stderr, read_stderr_buffer)):
            reader = threading.Thread(target=func, args=(stream, buffer), daemon=True)
            reader.start()
            readers.append(reader)
    data = stdin_value.encode("utf-8") if isinstance(stdin_value, str) else stdin_value
    if readers and data:
        process.stdin.write(data)
        process.stdin.close()

    # A watchdog thread rather than communicate(timeout=): under eventlet the TimeoutExpired
    # raised is a class of another copy of the subprocess module.
    expired = threading.Event()

    def expire():
        expired.set()
        if kill_func:
            kill_func(process=process)
        else:
            process.kill()

    watchdog = threading.Timer(timeout, expire) if timeout is not None else None
    out = err = None
    try:
        if watchdog:
            watchdog.daemon = True
            watchdog.start()
        if readers:
            process.wait()
        else:
            out, err = process.communicate(input=data or None)
    finally:
        if watchdog:
            watchdog.cancel()
    timed_out = expired.is_set()
    for reader in readers:
        reader.join(5 if timed_out else None)  # after a kill, a grandchild may hold the pipe
    if readers:
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
        out, err = read_stdout_buffer.getvalue(), read_stderr_buffer.getvalue()
    return (TIMEOUT_EXIT_CODE if timed_out else process.returncode), out, err, timed_out
