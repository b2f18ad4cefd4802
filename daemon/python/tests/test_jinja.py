import sys
import unittest
from unittest import mock

from tests import have
from st2common.util import jinja

NEEDS_JINJA = unittest.skipUnless(have("jinja2"), "jinja2 is not installed (st2d provides it at run time)")


class WithoutJinjaTest(unittest.TestCase):
    def test_environment_needs_jinja2(self):
        with mock.patch.dict(sys.modules, {"jinja2": None}):
            with self.assertRaises(ImportError):
                jinja.get_jinja_environment()

    def test_is_jinja_expression(self):
        self.assertTrue(jinja.is_jinja_expression("hello {{ name }}"))
        self.assertTrue(jinja.is_jinja_expression("{% if x %}y{% endif %}"))
        self.assertFalse(jinja.is_jinja_expression("plain { text }"))
        self.assertFalse(jinja.is_jinja_expression(""))
        self.assertFalse(jinja.is_jinja_expression(None))
        self.assertFalse(jinja.is_jinja_expression(["{{ x }}"]))

    def test_convert_jinja_to_raw_block(self):
        self.assertEqual(jinja.convert_jinja_to_raw_block("a {{ b }}"), "{% raw %}a {{ b }}{% endraw %}")
        self.assertEqual(jinja.convert_jinja_to_raw_block("plain"), "plain")
        self.assertEqual(jinja.convert_jinja_to_raw_block({"k": ["{% x %}", 1], "n": None}),
                         {"k": ["{% raw %}{% x %}{% endraw %}", 1], "n": None})

    def test_pure_filters(self):
        filters = jinja.get_filters()
        self.assertEqual(filters["to_human_time_from_seconds"](3785), "1h3m5s")
        self.assertEqual(filters["to_human_time_from_seconds"](59), "59s")
        self.assertEqual(filters["to_human_time_from_seconds"](86400 + 61.4), "1d0h1m1s")
        self.assertEqual(filters["to_human_time_from_seconds"](0), "0s")
        self.assertEqual(filters["regex_replace"]("a-b-c", "-", "+"), "a+b+c")
        self.assertTrue(filters["regex_match"]("Hello", "hel", ignorecase=True))
        self.assertFalse(filters["regex_match"]("say Hello", "Hello"))
        self.assertTrue(filters["regex_search"]("say Hello", "Hello"))
        self.assertEqual(filters["regex_substring"]("v1.2.3", r"(\d)", 2), "3")
        self.assertEqual(filters["from_json_string"]('{"a": [1]}'), {"a": [1]})
        self.assertEqual(filters["to_json_string"]({"a": 1}), '{"a": 1}')
        self.assertEqual(filters["json_escape"]('say "hi"\n'), 'say \\"hi\\"\\n')
        self.assertEqual(filters["use_none"](None), jinja.NONE_MAGIC_VALUE)
        self.assertEqual(filters["basename"]("/a/b.txt"), "b.txt")
        with self.assertRaisesRegex(ValueError, "get_value"):
            filters["decrypt_kv"]("x")


@NEEDS_JINJA
class RenderTest(unittest.TestCase):
    def test_render_values(self):
        rendered = jinja.render_values(
            mapping={"greeting": "hi {{ name }}", "items": ["{{ name }}", 2], "count": 3, "same": "plain"},
            context={"name": "st2d"})
        self.assertEqual(rendered, {"greeting": "hi st2d", "items": ["st2d", 2], "count": 3, "same": "plain"})

    def test_render_values_context_variable_and_filters(self):
        rendered = jinja.render_values({"a": "{{ __context.x | to_json_string }}",
                                        "b": "{{ 90 | to_human_time_from_seconds }}"},
                                       {"x": {"k": 1}})
        self.assertEqual(rendered, {"a": '{"k": 1}', "b": "1m30s"})

    def test_render_values_undefined(self):
        import jinja2
        with self.assertRaises(jinja2.UndefinedError) as caught:
            jinja.render_values({"a": "{{ missing }}"}, {"x": 1})
        self.assertEqual((caught.exception.key, caught.exception.value), ("a", "{{ missing }}"))
        self.assertEqual(jinja.render_values({"a": "[{{ missing }}]"}, {"x": 1}, allow_undefined=True), {"a": "[]"})

    def test_render_values_nothing_to_do(self):
        self.assertEqual(jinja.render_values({"a": "{{ x }}"}, {}), {"a": "{{ x }}"})
        self.assertIsNone(jinja.render_values(None, {"x": 1}))

    def test_environment_is_sandboxed_with_in_test(self):
        import jinja2.sandbox
        env = jinja.get_jinja_environment()
        self.assertIsInstance(env, jinja2.sandbox.SandboxedEnvironment)
        self.assertEqual(env.from_string("{{ 2 is in [1, 2] }}").render(), "True")
        with self.assertRaises(jinja2.exceptions.SecurityError):
            env.from_string("{{ ''.__class__.__mro__ }}").render()

    def test_raw_block_renders_as_itself(self):
        env = jinja.get_jinja_environment()
        self.assertEqual(env.from_string(jinja.convert_jinja_to_raw_block("{{ x }}")).render(), "{{ x }}")

    @unittest.skipUnless(have("yaml"), "PyYAML is not installed (st2d provides it at run time)")
    def test_yaml_filters(self):
        env = jinja.get_jinja_environment()
        self.assertEqual(env.from_string("{{ v | to_yaml_string }}").render(v={"a": [1]}), "a:\n- 1\n")
        self.assertEqual(jinja.from_yaml_string("a: [1, 2]"), {"a": [1, 2]})


if __name__ == "__main__":
    unittest.main()
