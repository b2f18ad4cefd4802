import io
import os
import subprocess
import sys
import tempfile
import time
import unittest

from tests import SHIM_DIR, have
from st2common.util import shell
from st2common.util.green import shell as green_shell


class QuoteTest(unittest.TestCase):
    def test_quote_unix(self):
        self.assertEqual(shell.quote_unix("it's"), "'it'\"'\"'s'")
        self.assertEqual(shell.quote_unix("plain"), "plain")
        self.assertEqual(shell.quote_unix("a b; rm -rf /"), "'a b; rm -rf /'")
        self.assertEqual(shell.quote_unix(""), "''")

    def test_quote_unix_round_trips_through_a_shell(self):
        value = "it's \"$HOME\" `x` \\ ;"
        code, out, _ = shell.run_command("printf %s " + shell.quote_unix(value), shell=True)
        self.assertEqual((code, out), (0, value))

    def test_quote_windows(self):
        self.assertEqual(shell.quote_windows("a b"), '"a b"')
        self.assertEqual(shell.quote_windows("plain"), "plain")
        self.assertEqual(shell.quote_windows('say "hi"'), '"say \\"hi\\""')


class RunCommandTest(unittest.TestCase):
    def test_list_command(self):
        self.assertEqual(shell.run_command(["echo", "hi"]), (0, "hi\n", ""))

    def test_shell_exit_code_and_stderr(self):
        self.assertEqual(shell.run_command("echo out; echo err >&2; exit 3", shell=True), (3, "out\n", "err\n"))

    def test_env_and_cwd(self):
        with tempfile.TemporaryDirectory() as cwd:
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ST2D_TEST": "value"}
            code, out, _ = shell.run_command("echo $ST2D_TEST; pwd", shell=True, env=env, cwd=cwd)
        self.assertEqual(code, 0)
        self.assertEqual(out.splitlines(), ["value", os.path.realpath(cwd)])

    def test_inherits_environment_without_env(self):
        os.environ["ST2D_TEST_INHERITED"] = "yes"
        try:
            self.assertEqual(shell.run_command("echo $ST2D_TEST_INHERITED", shell=True)[1], "yes\n")
        finally:
            del os.environ["ST2D_TEST_INHERITED"]

    def test_rejects_other_command_types(self):
        with self.assertRaises(TypeError):
            shell.run_command(42)

    def test_kill_process_terminates_the_session(self):
        process = subprocess.Popen("sleep 30 & sleep 30; wait", shell=True, start_new_session=True)
        time.sleep(0.2)
        self.assertEqual(shell.kill_process(process), 0)
        self.assertEqual(process.wait(timeout=10), -15)
        self.assertEqual(shell.kill_process(process), 1, "nothing left to signal")


class GreenRunCommandTest(unittest.TestCase):
    def test_completes(self):
        self.assertEqual(green_shell.run_command(["echo", "hi"]), (0, b"hi\n", b"", False))

    def test_timeout_kills_and_reports(self):
        started = time.monotonic()
        code, out, err, timed_out = green_shell.run_command(["sleep", "30"], timeout=0.5)
        self.assertEqual((code, out, err, timed_out), (green_shell.TIMEOUT_EXIT_CODE, b"", b"", True))
        self.assertEqual(code, -9)
        self.assertLess(time.monotonic() - started, 10)

    def test_stdin_value(self):
        result = green_shell.run_command(["cat"], stdin=subprocess.PIPE, stdin_value="from stdin")
        self.assertEqual(result, (0, b"from stdin", b"", False))

    def test_live_readers(self):
        def read(stream, buffer):
            for line in iter(stream.readline, b""):
                buffer.write(line.decode())

        out, err = io.StringIO(), io.StringIO()
        result = green_shell.run_command("echo a; echo b >&2", shell=True, read_stdout_func=read,
                                         read_stderr_func=read, read_stdout_buffer=out, read_stderr_buffer=err)
        self.assertEqual(result, (0, "a\n", "b\n", False))

    def test_needs_both_readers(self):
        with self.assertRaises(ValueError):
            green_shell.run_command(["true"], read_stdout_func=lambda s, b: None)


@unittest.skipUnless(have("eventlet"), "eventlet is not installed (st2d provides it at run time)")
class UnderEventletTest(unittest.TestCase):
    def test_run_command_in_a_monkey_patched_process(self):
        code = ("import warnings; warnings.simplefilter('ignore')\n"
                "import eventlet; eventlet.monkey_patch()\n"
                "from st2common.util import shell\n"
                "from st2common.util.green import shell as green\n"
                "print(shell.subprocess_module().__name__)\n"
                "print(shell.run_command(['echo', 'hi']))\n"
                "print(green.run_command(['sleep', '30'], timeout=0.5))\n")
        result = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=os.pathsep.join(
                                    [SHIM_DIR] + [p for p in [os.environ.get("PYTHONPATH")] if p])),
                                capture_output=True, text=True, timeout=20)
        self.assertEqual(result.stdout.splitlines(),
                         ["eventlet.green.subprocess", "(0, 'hi\\n', '')", "(-9, b'', b'', True)"], result.stderr)


if __name__ == "__main__":
    unittest.main()
