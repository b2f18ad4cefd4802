"""Loading a pack's Python file the way StackStorm does: its directory appended to sys.path
(after the pack's libraries and StackStorm's), imported under its file name.

Owns: importing a sensor or action module. Must not: pick the class (the entry points do).
"""
import importlib.util
import os
import sys


def load_module(path):
    """The module in the file at `path`, with its directory importable."""
    directory = os.path.dirname(path)
    if directory not in sys.path:
        sys.path.append(directory)
    module_name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError("cannot load %s" % path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
