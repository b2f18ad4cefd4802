import logging
import os
import subprocess
import sys
import unittest

from tests import SHIM_DIR
from st2common import log
from st2common.runners import utils as runner_utils
from st2common.runners.base_action import Action


def run_python(code):
    """stderr of `code` run in a fresh interpreter with the shim on its path."""
    env = dict(os.environ, PYTHONPATH=SHIM_DIR)
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise AssertionError(result.stderr)
    return result.stderr


class LogTest(unittest.TestCase):
    def test_get_logger_prefixes_st2_once(self):
        self.assertIsInstance(log.getLogger("mypack"), logging.Logger)
        self.assertEqual(log.getLogger("mypack").name, "st2.mypack")
        self.assertEqual(log.getLogger("st2.mypack").name, "st2.mypack")

    def test_audit_level(self):
        self.assertEqual(log.AUDIT, logging.CRITICAL + 10)
        self.assertEqual(logging.AUDIT, log.AUDIT)
        self.assertEqual(logging.getLevelName(log.AUDIT), "AUDIT")
        logger = log.getLogger("audit_test")
        with self.assertLogs("st2.audit_test", level="DEBUG") as logs:
            logger.audit("user %s did it", "bob")
        self.assertEqual(logs.records[0].levelno, log.AUDIT)
        self.assertEqual(logs.output, ["AUDIT:st2.audit_test:user bob did it"])

    def test_extra_keys_are_prefixed(self):
        logger = log.getLogger("extra_test")
        with self.assertLogs("st2.extra_test", level="INFO") as logs:
            logger.info("hello", extra={"message": "clash", "name": "also", "pack": "demo"})
        record = logs.records[0]
        self.assertEqual((record.getMessage(), record.name), ("hello", "st2.extra_test"))
        self.assertEqual((record._message, record._name, record._pack), ("clash", "also", "demo"))

    def test_logging_stream(self):
        stream = log.LoggingStream("stream_test", level=logging.WARNING)
        with self.assertLogs("st2.stream_test", level="DEBUG") as logs:
            stream.write("first line\n")
            stream.write("\n")
            stream.flush()
        self.assertEqual(logs.output, ["WARNING:st2.stream_test:first line"])

    def test_sensor_process_gets_stderr_output(self):
        stderr = run_python("from st2common import log; log.getLogger('s').debug('from a sensor')")
        self.assertIn("DEBUG st2.s: from a sensor", stderr)

    def test_action_process_uses_the_root_handler(self):
        stderr = run_python(
            "import logging, sys\n"
            "logging.basicConfig(stream=sys.stderr, level=logging.DEBUG, format='ROOT %(name)s %(message)s')\n"
            "from st2common import log\n"
            "log.getLogger('a').info('once')\n")
        self.assertEqual(stderr.splitlines(), ["ROOT st2.a once"])


class RunnerUtilsTest(unittest.TestCase):
    def test_logger_for_python_runner_action(self):
        logger = runner_utils.get_logger_for_python_runner_action("my_action", log_level="info")
        self.assertEqual(logger.name, "st2.actions.python.my_action")
        self.assertEqual(logger.level, logging.INFO)
        self.assertFalse(logger.propagate)
        self.assertIs(runner_utils.get_logger_for_python_runner_action("my_action"), logger)
        self.assertEqual(len(logger.handlers), 1)
        self.assertEqual(runner_utils.get_logger_for_python_runner_action("other", log_level="nonsense").level,
                         logging.DEBUG)

    def test_runner_logger_output_format(self):
        stderr = run_python("from st2common.runners.utils import get_logger_for_python_runner_action as g\n"
                            "g('act', 'warning').info('hidden'); g('act').error('shown')\n")
        self.assertEqual(stderr.splitlines(), ["st2.actions.python.act: ERROR    shown"])

    def test_get_action_class_instance(self):
        class Modern(Action):
            def run(self):
                return self.config, self.action_service

        class Legacy(Action):
            def __init__(self, config):
                super(Legacy, self).__init__(config=config)

            def run(self):
                pass

        service = object()
        modern = runner_utils.get_action_class_instance(Modern, config={"a": 1}, action_service=service)
        self.assertEqual(modern.run(), ({"a": 1}, service))
        legacy = runner_utils.get_action_class_instance(Legacy, config={"b": 2}, action_service=service)
        self.assertEqual((legacy.config, legacy.action_service), ({"b": 2}, service))

    def test_get_action_class_instance_keeps_other_type_errors(self):
        class Broken(Action):
            def __init__(self, config=None, action_service=None):
                raise TypeError("something else")

            def run(self):
                pass

        with self.assertRaisesRegex(TypeError, "something else"):
            runner_utils.get_action_class_instance(Broken)

    def test_pack_config_dict(self):
        config = runner_utils.PackConfigDict("demo", {"a": 1})
        self.assertEqual((config["a"], config.get("b")), (1, None))
        with self.assertRaisesRegex(ValueError, r'missing key "b".*configs/demo\.yaml'):
            config["b"]
        with self.assertRaises(KeyError):
            config["b"]
        self.assertEqual(runner_utils.PackConfigDict("empty"), {})


if __name__ == "__main__":
    unittest.main()
