"""Pack path helpers of StackStorm's `st2common.content.utils`: the packs directories, a pack's
directory, and safe absolute paths of files in a pack.

The packs directories come from the environment variable `ST2D_PACKS_PATHS`, set by st2d for
pack processes: colon-separated, the first being where packs are installed (StackStorm's
system packs path). Unset or empty, it is StackStorm's default, `/opt/stackstorm/packs`.

Owns: mapping pack names and pack-relative paths to files. Must not: read or write pack files.
"""
import os

from st2common.constants.action import LIBS_DIR as ACTION_LIBS_DIR
from st2common.util.shell import quote_unix

__all__ = [
    "get_system_packs_base_path", "get_packs_base_paths", "get_pack_base_path", "get_pack_directory",
    "get_entry_point_abs_path", "get_pack_file_abs_path", "get_pack_resource_file_abs_path",
    "get_relative_path_to_pack_file", "get_action_libs_abs_path", "check_pack_directory_exists",
    "check_pack_content_directory_exists",
]

PACKS_PATHS_ENV = "ST2D_PACKS_PATHS"
DEFAULT_PACKS_BASE_PATH = "/opt/stackstorm/packs"

INVALID_FILE_PATH_ERROR = ('Invalid file path: "%s". File path needs to be relative to the pack%sdirectory '
                           '(%s). For example "my_%s.py".')

# pack name -> its base path, filled by get_pack_base_path, read when use_pack_cache is asked
PACK_NAME_TO_BASE_PATH_CACHE = {}

_RESOURCE_DIRS = {"action": "actions/", "sensor": "sensors/", "rule": "rules/"}


def get_packs_base_paths():
    """The packs directories, in search order, without empty entries or duplicates."""
    paths = []
    for path in (os.environ.get(PACKS_PATHS_ENV) or DEFAULT_PACKS_BASE_PATH).split(":"):
        if path and path not in paths:
            paths.append(path)
    return paths or [DEFAULT_PACKS_BASE_PATH]


def get_system_packs_base_path():
    """The directory packs are installed into (the first packs directory)."""
    return get_packs_base_paths()[0]


def _inside(base, path):
    return path == base or path.startswith(base.rstrip(os.sep) + os.sep)


def check_pack_directory_exists(pack):
    return any(os.path.exists(os.path.join(base, pack)) for base in get_packs_base_paths())


def check_pack_content_directory_exists(pack, content_type):
    """True when some packs directory has `<pack>/<content_type>` (e.g. "actions")."""
    return any(os.path.exists(os.path.join(base, pack, content_type)) for base in get_packs_base_paths())


def get_pack_directory(pack_name):
    """The absolute directory of the pack in the first packs directory that has it, or None."""
    for base in get_packs_base_paths():
        path = os.path.abspath(os.path.join(base, quote_unix(pack_name)))
        if os.path.isdir(path):
            return path
    return None


def get_pack_base_path(pack_name, include_trailing_slash=False, use_pack_cache=False):
    """The pack's absolute directory; for a pack found nowhere, where it would be in the first
    packs directory. None for an empty name."""
    if not pack_name:
        return None
    if use_pack_cache and pack_name in PACK_NAME_TO_BASE_PATH_CACHE:
        return PACK_NAME_TO_BASE_PATH_CACHE[pack_name]
    path = get_pack_directory(pack_name)
    if path is None:
        path = os.path.abspath(os.path.join(get_packs_base_paths()[0], quote_unix(pack_name)))
    if include_trailing_slash and not path.endswith(os.sep):
        path += os.sep
    PACK_NAME_TO_BASE_PATH_CACHE[pack_name] = path
    return path


def get_pack_file_abs_path(pack_ref, file_path, resource_type=None, use_pack_cache=False):
    """The absolute path of `file_path`, relative to the pack's directory; a path that is not
    normalized or leaves the pack ("../x", "/etc/x") is a ValueError."""
    base = get_pack_base_path(pack_name=pack_ref, use_pack_cache=use_pack_cache)
    normalized = os.path.normpath("/" + file_path).lstrip("/")
    result = os.path.join(base, normalized)
    if normalized != file_path or not _inside(base, result):
        if resource_type:
            kind, resource_base = " %ss " % resource_type, os.path.join(base, "%ss/" % resource_type)
        else:
            kind, resource_base = " ", base
        raise ValueError(INVALID_FILE_PATH_ERROR % (file_path, kind, resource_base, resource_type or "action"))
    return result


def get_pack_resource_file_abs_path(pack_ref, resource_type, file_path):
    """The absolute path of `file_path` under the pack's directory of `resource_type`
    ("action", "sensor" or "rule")."""
    if resource_type not in _RESOURCE_DIRS:
        raise ValueError("Invalid resource type: %s" % resource_type)
    return get_pack_file_abs_path(pack_ref=pack_ref, file_path=os.path.join(_RESOURCE_DIRS[resource_type], file_path),
                                  resource_type=resource_type)


def get_entry_point_abs_path(pack=None, entry_point=None, use_pack_cache=False):
    """The absolute path of an action's entry point: relative to the pack's actions/ directory,
    or absolute inside the pack. None without an entry point."""
    if not entry_point:
        return None
    if os.path.isabs(entry_point):
        base = get_pack_base_path(pack_name=pack, use_pack_cache=use_pack_cache)
        if not _inside(base, entry_point):
            raise ValueError('Entry point file "%s" is located outside of the pack directory' % entry_point)
        return entry_point
    return get_pack_resource_file_abs_path(pack_ref=pack, resource_type="action", file_path=entry_point)


def get_action_libs_abs_path(pack=None, entry_point=None):
    """The lib/ directory beside an action's entry point, or None without an entry point."""
    path = get_entry_point_abs_path(pack=pack, entry_point=entry_point)
    return None if path is None else os.path.join(os.path.dirname(path), ACTION_LIBS_DIR)


def get_relative_path_to_pack_file(pack_ref, file_path, use_pack_cache=False):
    """`file_path` relative to the pack's directory (a relative path is returned as it is); an
    absolute path outside the pack is a ValueError."""
    if not os.path.isabs(file_path):
        return file_path
    base = get_pack_base_path(pack_name=pack_ref, use_pack_cache=use_pack_cache)
    file_path = os.path.abspath(file_path)
    if not _inside(base, file_path):
        raise ValueError("file_path (%s) is not located inside the pack directory (%s)" % (file_path, base))
    return os.path.relpath(file_path, base)
