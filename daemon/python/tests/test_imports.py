import importlib
import os
import subprocess
import sys
import tempfile
import unittest

from tests import SHIM_DIR

NEW_MODULES = [
    "st2common.util.isotime", "st2common.util.date", "st2common.log", "st2common.util.shell",
    "st2common.util.green.shell", "st2common.util.jinja", "st2common.content.utils", "st2common.runners.utils",
    "st2common.exceptions", "st2common.exceptions.action", "st2common.constants.action",
    "st2common.constants.keyvalue", "st2common.constants.pack", "st2common.constants.triggers",
    "st2common.constants.secrets", "st2actions.runners.pythonrunner",
]

REFUSED = {
    "st2common.persistence": "get_value, set_value",
    "st2common.persistence.keyvalue": "get_value, set_value",
    "st2common.models.db": "get_value, set_value",
    "st2common.models.db.keyvalue": "get_value, set_value",
    "st2common.bootstrap": "st2ctl reload",
    "st2common.bootstrap.actionsregistrar": "st2ctl reload",
    "st2common.content.bootstrap": "st2ctl reload",
    "st2common.transport": "sensor_service.dispatch",
    "st2common.transport.publishers": "sensor_service.dispatch",
    "st2common.services": "st2client",
    "st2common.services.datastore": "st2client",
}


class ImportTest(unittest.TestCase):
    def test_modules_import_with_the_standard_library_only(self):
        blocked = "; ".join("sys.modules[%r] = None" % name for name in
                            ("dateutil", "dateutil.tz", "dateutil.parser", "jinja2", "yaml", "six", "eventlet"))
        code = "import sys; %s\nimport %s\nprint('ok')" % (blocked, ", ".join(NEW_MODULES))
        result = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=SHIM_DIR),
                                capture_output=True, text=True, timeout=60)
        self.assertEqual((result.returncode, result.stdout, result.stderr), (0, "ok\n", ""))

    def test_every_new_module_has_a_docstring(self):
        for name in NEW_MODULES + ["st2actions", "st2actions.runners", "st2common.util", "st2common.content",
                                   "st2common.constants", "st2common.util.green", "st2common.models"]:
            with self.subTest(module=name):
                self.assertTrue((importlib.import_module(name).__doc__ or "").strip())


class RefusedModulesTest(unittest.TestCase):
    def test_refused_modules_raise_import_error_naming_the_alternative(self):
        for name, hint in REFUSED.items():
            with self.subTest(module=name):
                for _ in range(2):  # a failed import is not cached as a success
                    with self.assertRaises(ImportError) as caught:
                        importlib.import_module(name)
                    error = caught.exception
                    self.assertNotIsInstance(error, ModuleNotFoundError)
                    self.assertIn("which st2d does not have", str(error))
                    self.assertIn(hint, str(error))
                    self.assertTrue(str(error).startswith(name.split(".")[0] + "."), str(error))
                self.assertNotIn(name, sys.modules)

    def test_from_import_form_is_refused_too(self):
        with self.assertRaisesRegex(ImportError, "st2common.persistence needs StackStorm's database"):
            from st2common.persistence.keyvalue import KeyValuePair  # noqa: F401
        with self.assertRaisesRegex(ImportError, "st2common.services needs"):
            from st2common.services import datastore  # noqa: F401


class ConstantsTest(unittest.TestCase):
    def test_action_constants(self):
        from st2common.constants import action
        self.assertEqual(action.LIVEACTION_STATUS_SUCCEEDED, "succeeded")
        self.assertEqual(action.LIVEACTION_STATUS_TIMED_OUT, "timeout")
        self.assertEqual(action.LIVEACTION_STATUS_CANCELED, "canceled")
        self.assertEqual(len(action.LIVEACTION_STATUSES), 14)
        self.assertEqual(action.LIVEACTION_FAILED_STATES, ["failed", "timeout", "abandoned"])
        self.assertEqual(action.LIVEACTION_COMPLETED_STATES,
                         ["succeeded", "failed", "timeout", "canceled", "abandoned"])
        self.assertNotIn("running", action.LIVEACTION_COMPLETED_STATES)
        self.assertIn("delayed", action.LIVEACTION_CANCELABLE_STATES)
        self.assertEqual(action.ACTION_OUTPUT_RESULT_DELIMITER, "%%%%%~=~=~=************=~=~=~%%%%")
        self.assertEqual(action.LIBS_DIR, "lib")
        self.assertEqual(action.MAX_PARAM_LENGTH, 131057)

    def test_keyvalue_constants(self):
        from st2common.constants import keyvalue
        self.assertEqual((keyvalue.SYSTEM_SCOPE, keyvalue.USER_SCOPE), ("system", "user"))
        self.assertEqual((keyvalue.FULL_SYSTEM_SCOPE, keyvalue.FULL_USER_SCOPE), ("st2kv.system", "st2kv.user"))
        self.assertEqual((keyvalue.DATASTORE_PARENT_SCOPE, keyvalue.DATASTORE_KEY_SEPARATOR), ("st2kv", ":"))
        self.assertEqual(keyvalue.ALLOWED_SCOPES, ["system", "user", "st2kv.system", "st2kv.user"])
        self.assertEqual(keyvalue.ALL_SCOPE, "all")

    def test_pack_and_trigger_constants(self):
        import re
        from st2common.constants import pack, triggers
        self.assertEqual((pack.SYSTEM_PACK_NAME, pack.PACKS_PACK_NAME, pack.MANIFEST_FILE_NAME),
                         ("core", "packs", "pack.yaml"))
        self.assertEqual(pack.PACK_VERSION_SEPARATOR, "=")
        self.assertTrue(re.match(pack.PACK_VERSION_REGEX, "1.10.0-rc.1+build"))
        self.assertFalse(re.match(pack.PACK_VERSION_REGEX, "01.0.0"))
        self.assertTrue(re.match(pack.PACK_REF_WHITELIST_REGEX, "my_pack1"))
        self.assertFalse(re.match(pack.PACK_REF_WHITELIST_REGEX, "My-Pack"))
        self.assertEqual(triggers.INTERVAL_TIMER_TRIGGER_REF, "core.st2.IntervalTimer")
        self.assertEqual(triggers.CRON_TIMER_TRIGGER_REF, "core.st2.CronTimer")
        self.assertEqual(triggers.WEBHOOK_TRIGGER_TYPE, "core.st2.webhook")
        self.assertEqual(triggers.ACTION_SENSOR_TRIGGER["name"], "st2.generic.actiontrigger")
        self.assertEqual(sorted(triggers.SYSTEM_TRIGGER_TYPES),
                         ["core.st2.CronTimer", "core.st2.DateTimer", "core.st2.IntervalTimer", "core.st2.webhook"])
        self.assertEqual(triggers.TRIGGER_INSTANCE_COMPLETED_STATES, ["processed", "processing_failed"])

    def test_builtin_core_pack_has_the_trigger_types_named_here(self):
        from st2common.constants import triggers
        builtin = os.path.join(os.path.dirname(SHIM_DIR), "builtin", "core", "triggers")
        if not os.path.isdir(builtin):
            self.skipTest("the built-in core pack is not beside the shim")
        names = set()
        for file_name in os.listdir(builtin):
            with open(os.path.join(builtin, file_name)) as handle:
                names.update(line.split(":", 1)[1].strip() for line in handle if line.startswith("name:"))
        here = {t["name"] for group in triggers.INTERNAL_TRIGGER_TYPES.values() for t in group}
        here.update(t["name"] for t in triggers.SYSTEM_TRIGGER_TYPES.values())
        self.assertEqual(here, names)


class AliasesAndExceptionsTest(unittest.TestCase):
    def test_legacy_action_path_is_the_same_class(self):
        from st2actions.runners.pythonrunner import Action as Legacy
        from st2common.runners.base_action import Action
        self.assertIs(Legacy, Action)

    def test_shim_loads_an_action_written_against_the_legacy_path(self):
        from st2d_shim.action_main import load_action_class
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "legacy_action_for_test.py")
            with open(path, "w") as handle:
                handle.write("from st2actions.runners.pythonrunner import Action\n\n\n"
                             "class Legacy(Action):\n    def run(self, x):\n        return x * 2\n")
            cls = load_action_class(path)
        self.assertEqual(cls.__name__, "Legacy")
        self.assertEqual(cls(config={}).run(x=21), 42)

    def test_exceptions(self):
        from st2common.exceptions import StackStormBaseException, StackStormPluginException
        from st2common.exceptions import action
        self.assertTrue(issubclass(StackStormPluginException, StackStormBaseException))
        for cls in (action.ParameterRenderingFailedException, action.InvalidActionReferencedException,
                    action.InvalidActionParameterException):
            with self.subTest(cls=cls.__name__):
                self.assertTrue(issubclass(cls, StackStormBaseException))
                self.assertEqual(str(cls("boom")), "boom")


if __name__ == "__main__":
    unittest.main()
