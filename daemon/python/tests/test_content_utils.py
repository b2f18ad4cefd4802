import os
import tempfile
import unittest
from unittest import mock

from st2common.content import utils


class PacksPathsTest(unittest.TestCase):
    def setUp(self):
        self.first = tempfile.mkdtemp()
        self.second = tempfile.mkdtemp()
        os.makedirs(os.path.join(self.second, "demo", "actions", "lib"))
        os.makedirs(os.path.join(self.first, "other"))
        env = mock.patch.dict(os.environ, {"ST2D_PACKS_PATHS": "%s:%s:" % (self.first, self.second)})
        env.start()
        self.addCleanup(env.stop)
        utils.PACK_NAME_TO_BASE_PATH_CACHE.clear()

    def tearDown(self):
        import shutil
        shutil.rmtree(self.first)
        shutil.rmtree(self.second)

    def test_default_when_unset(self):
        with mock.patch.dict(os.environ):
            os.environ.pop("ST2D_PACKS_PATHS", None)
            self.assertEqual(utils.get_packs_base_paths(), ["/opt/stackstorm/packs"])
            os.environ["ST2D_PACKS_PATHS"] = ""
            self.assertEqual(utils.get_system_packs_base_path(), "/opt/stackstorm/packs")

    def test_packs_base_paths_in_order_without_empties_or_duplicates(self):
        os.environ["ST2D_PACKS_PATHS"] = "/a::/b:/a:"
        self.assertEqual(utils.get_packs_base_paths(), ["/a", "/b"])
        self.assertEqual(utils.get_system_packs_base_path(), "/a")

    def test_pack_base_path_and_directory(self):
        demo = os.path.join(self.second, "demo")
        self.assertEqual(utils.get_pack_directory("demo"), demo)
        self.assertEqual(utils.get_pack_base_path("demo"), demo)
        self.assertEqual(utils.get_pack_base_path("demo", include_trailing_slash=True), demo + "/")
        self.assertIsNone(utils.get_pack_directory("missing"))
        self.assertEqual(utils.get_pack_base_path("missing"), os.path.join(self.first, "missing"))
        self.assertIsNone(utils.get_pack_base_path(""))

    def test_pack_cache_is_used_only_when_asked(self):
        utils.PACK_NAME_TO_BASE_PATH_CACHE["demo"] = "/cached"
        self.assertEqual(utils.get_pack_base_path("demo", use_pack_cache=True), "/cached")
        self.assertEqual(utils.get_pack_base_path("demo"), os.path.join(self.second, "demo"))

    def test_checks(self):
        self.assertTrue(utils.check_pack_directory_exists("demo"))
        self.assertFalse(utils.check_pack_directory_exists("missing"))
        self.assertTrue(utils.check_pack_content_directory_exists("demo", "actions"))
        self.assertFalse(utils.check_pack_content_directory_exists("demo", "sensors"))

    def test_pack_file_paths(self):
        demo = os.path.join(self.second, "demo")
        self.assertEqual(utils.get_pack_file_abs_path("demo", "etc/x.yaml"), os.path.join(demo, "etc/x.yaml"))
        self.assertEqual(utils.get_pack_resource_file_abs_path("demo", "sensor", "s.py"),
                         os.path.join(demo, "sensors/s.py"))
        for bad in ("../other/x.py", "/etc/passwd", "a/../../x", "./x.py"):
            with self.subTest(path=bad):
                with self.assertRaisesRegex(ValueError, "Invalid file path"):
                    utils.get_pack_file_abs_path("demo", bad)
        with self.assertRaisesRegex(ValueError, "Invalid resource type"):
            utils.get_pack_resource_file_abs_path("demo", "widget", "x.py")

    def test_entry_point_and_libs(self):
        demo = os.path.join(self.second, "demo")
        self.assertEqual(utils.get_entry_point_abs_path("demo", "run.py"), os.path.join(demo, "actions", "run.py"))
        self.assertEqual(utils.get_entry_point_abs_path("demo", os.path.join(demo, "x.sh")), os.path.join(demo, "x.sh"))
        self.assertIsNone(utils.get_entry_point_abs_path("demo", ""))
        with self.assertRaisesRegex(ValueError, "outside of the pack directory"):
            utils.get_entry_point_abs_path("demo", demo + "2/x.sh")
        self.assertEqual(utils.get_action_libs_abs_path("demo", "sub/run.py"),
                         os.path.join(demo, "actions", "sub", "lib"))

    def test_relative_path_to_pack_file(self):
        demo = os.path.join(self.second, "demo")
        self.assertEqual(utils.get_relative_path_to_pack_file("demo", os.path.join(demo, "actions", "a.py")),
                         "actions/a.py")
        self.assertEqual(utils.get_relative_path_to_pack_file("demo", "already/relative.py"), "already/relative.py")
        with self.assertRaisesRegex(ValueError, "not located inside the pack directory"):
            utils.get_relative_path_to_pack_file("demo", "/etc/passwd")


if __name__ == "__main__":
    unittest.main()
