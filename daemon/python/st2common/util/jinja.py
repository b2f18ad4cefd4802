"""Jinja helpers of StackStorm's `st2common.util.jinja`: the sandboxed environment with
StackStorm's filters, `render_values`, and detecting or escaping Jinja in values.

jinja2 (and PyYAML for the YAML filters) come from st2d's base libraries at run time; they are
imported when a function needs them, so this module imports without them.

Owns: rendering pack-supplied templates. Must not: reach the datastore (`decrypt_kv` is refused).
"""
import datetime
import json
import os
import re

__all__ = ["get_jinja_environment", "render_values", "is_jinja_expression", "convert_jinja_to_raw_block"]

JINJA_EXPRESSIONS_START_MARKERS = ["{{", "{%"]
JINJA_REGEX = "({{(.*)}})"
JINJA_REGEX_PTRN = re.compile(JINJA_REGEX)
JINJA_BLOCK_REGEX = "({%(.*)%})"
JINJA_BLOCK_REGEX_PTRN = re.compile(JINJA_BLOCK_REGEX)

# What the `use_none` filter turns None into (StackStorm's marker string).
NONE_MAGIC_VALUE = "%*****__%NONE%__*****%"


def _yaml():
    import yaml
    return yaml, getattr(yaml, "CSafeLoader", yaml.SafeLoader), getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def from_yaml_string(value):
    yaml, loader, _ = _yaml()
    return yaml.load(str(value), Loader=loader)


def to_yaml_string(value, indent=None, allow_unicode=True):
    yaml, _, dumper = _yaml()
    options = {"default_flow_style": False}
    if indent is not None:
        options["indent"] = indent
    if allow_unicode is not None:
        options["allow_unicode"] = allow_unicode
    return yaml.dump(value, Dumper=dumper, **options)


def to_json_string(value, indent=None, sort_keys=False, separators=(",", ": ")):
    return json.dumps(value, indent=indent, sort_keys=bool(sort_keys), separators=separators)


def _text(value):
    return value if isinstance(value, str) else str(value)


def regex_match(value, pattern, ignorecase=False):
    return bool(re.match(pattern, _text(value), re.I if ignorecase else 0))


def regex_search(value, pattern, ignorecase=False):
    return bool(re.search(pattern, _text(value), re.I if ignorecase else 0))


def regex_replace(value, pattern, replacement, ignorecase=False):
    return re.sub(pattern, replacement, _text(value), flags=re.I if ignorecase else 0)


def regex_substring(value, pattern, result_index=0, ignorecase=False):
    return re.findall(pattern, _text(value), re.I if ignorecase else 0)[result_index]


def to_human_time_from_seconds(seconds):
    """"1h3m5s" for 3785; below a second "<n>\u03bcs", as StackStorm writes it."""
    if seconds is None:
        return None
    if not isinstance(seconds, (int, float)):
        raise TypeError("seconds must be a number, not %r" % (seconds,))
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return "%s\u03bcs" % seconds
    moment = datetime.datetime(1, 1, 1) + datetime.timedelta(seconds=int(round(seconds)))
    parts = [moment.year - 1, moment.day - 1, moment.hour, moment.minute, moment.second]
    while len(parts) > 1 and not parts[0]:
        parts.pop(0)
    units = "ydhms"[-len(parts):]
    return "".join("%s%s" % (part, unit) for part, unit in zip(parts, units))


def jsonpath_query(value, query):
    import jsonpath_rw  # not in st2d's base libraries: the pack must require it
    matches = [match.value for match in jsonpath_rw.parse(query).find(value)]
    return matches or None


def _semver(value):
    import semver  # not in st2d's base libraries: the pack must require it
    return semver.Version.parse(value)


def version_compare(value, pattern):
    return _semver(value).compare(pattern)


def decrypt_kv(value):
    raise ValueError("decrypt_kv is not available in pack code under st2d: read the secret with "
                     "action_service.get_value(name, decrypt=True)")


def get_filters():
    """StackStorm's Jinja filters, by name."""
    return {
        "decrypt_kv": decrypt_kv,
        "from_json_string": lambda value: json.loads(str(value)),
        "from_yaml_string": from_yaml_string,
        "json_escape": lambda value: json.dumps(value).strip('"'),
        "jsonpath_query": jsonpath_query,
        "to_complex": json.dumps,
        "to_json_string": to_json_string,
        "to_yaml_string": to_yaml_string,
        "regex_match": regex_match,
        "regex_replace": regex_replace,
        "regex_search": regex_search,
        "regex_substring": regex_substring,
        "to_human_time_from_seconds": to_human_time_from_seconds,
        "version_compare": version_compare,
        "version_more_than": lambda value, pattern: version_compare(value, pattern) == 1,
        "version_less_than": lambda value, pattern: version_compare(value, pattern) == -1,
        "version_equal": lambda value, pattern: version_compare(value, pattern) == 0,
        "version_match": lambda value, pattern: _semver(value).match(pattern),
        "version_bump_major": lambda value: str(_semver(value).bump_major()),
        "version_bump_minor": lambda value: str(_semver(value).bump_minor()),
        "version_bump_patch": lambda value: str(_semver(value).bump_patch()),
        "version_strip_patch": lambda value: "%s.%s" % (_semver(value).major, _semver(value).minor),
        "use_none": lambda value: NONE_MAGIC_VALUE if value is None else value,
        "basename": os.path.basename,
        "dirname": os.path.dirname,
    }


def get_jinja_environment(allow_undefined=False, trim_blocks=True, lstrip_blocks=True):
    """A sandboxed jinja2 environment with StackStorm's filters and the `in` test; an undefined
    variable is an error unless `allow_undefined`."""
    import jinja2
    import jinja2.sandbox

    env = jinja2.sandbox.SandboxedEnvironment(
        undefined=jinja2.Undefined if allow_undefined else jinja2.StrictUndefined,
        trim_blocks=trim_blocks, lstrip_blocks=lstrip_blocks)
    env.filters.update(get_filters())
    env.tests["in"] = lambda item, collection: item in collection
    return env


def render_values(mapping=None, context=None, allow_undefined=False):
    """`mapping` with each value rendered as a template against `context` (also reachable as
    `__context`). Dicts and lists are rendered as their JSON and read back; a value the
    rendering leaves unchanged keeps its original type. A failing render raises with `key` and
    `value` set on the exception."""
    if not context or not mapping:
        return mapping
    variables = {"__context": context}
    variables.update(context)
    env = get_jinja_environment(allow_undefined=allow_undefined)
    rendered = {}
    for key, original in mapping.items():
        structured = isinstance(original, (dict, list))
        source = json.dumps(original, separators=(",", ":")) if structured else _text(original)
        try:
            result = env.from_string(source).render(variables)
        except Exception as error:
            error.key, error.value = key, source
            raise
        if result == source:
            rendered[key] = original
        else:
            rendered[key] = json.loads(result) if structured else result
    return rendered


def is_jinja_expression(value):
    """True when `value` is a string holding "{{" or "{%"."""
    return isinstance(value, str) and any(marker in value for marker in JINJA_EXPRESSIONS_START_MARKERS)


def convert_jinja_to_raw_block(value):
    """`value` (strings, in dicts and lists too) with each string holding Jinja wrapped in
    {% raw %}...{% endraw %}, so it renders as itself."""
    if isinstance(value, dict):
        return {key: convert_jinja_to_raw_block(item) for key, item in value.items()}
    if isinstance(value, list):
        return [convert_jinja_to_raw_block(item) for item in value]
    if isinstance(value, str) and (JINJA_REGEX_PTRN.search(value) or JINJA_BLOCK_REGEX_PTRN.search(value)):
        return "{% raw %}" + value + "{% endraw %}"
    return value
