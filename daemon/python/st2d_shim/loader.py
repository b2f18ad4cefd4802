"""Loading a pack's Python file the way StackStorm does: its directory appended to sys.path
(after the pack's libraries and StackStorm's), imported under its file name.

A warm interpreter that preloads a pack's actions (`warm_main.py`, `--python-preload`) imports
them here once, before it forks; a child then takes its action's module from `PRELOADED`
instead of importing the file again, with sys.path and sys.modules as the import leaves them.

Owns: importing a sensor or action module. Must not: pick the class (the entry points do).
"""
import importlib.util
import os
import sys

# Modules imported by a warm interpreter before it forked, by the path of their file.
PRELOADED = {}


def module_name(path):
    return os.path.splitext(os.path.basename(path))[0]


def load_module(path):
    """The module in the file at `path`, with its directory importable."""
    directory = os.path.dirname(path)
    if directory not in sys.path:
        sys.path.append(directory)
    name = module_name(path)
    module = PRELOADED.get(path)
    if module is not None:
        sys.modules[name] = module
        return module
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError("cannot load %s" % path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
