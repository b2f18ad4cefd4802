"""Entry point of a python-script action process: connect to st2d, load the action class, run
it with the parameters of the `welcome`, and report the result over the shim connection.

Owns: the action life cycle (load, run, the `(status, result)` protocol, exit status). Must
not: write the protocol anywhere but the shim connection; stdout and stderr are the action's.
"""
import inspect
import json
import logging
import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from st2d_shim.action_service import ActionService, Config  # noqa: E402
from st2d_shim.connection import RequestConnection  # noqa: E402
from st2d_shim.loader import load_module  # noqa: E402

INVALID_STATUS_EXIT_CODE = 220
INVALID_STATUS_ERROR_MESSAGE = (
    "If this is an existing action which returns a tuple with two items, it needs to be updated "
    "to either:\n\n1. Return a list instead of a tuple\n2. Return a tuple where a first items is "
    "a status flag - (True, ('item1', 'item2'))\n\nFor more information, please see: "
    "https://docs.stackstorm.com/upgrade_notes.html#st2-v1-6\n")
# AUDIT is above CRITICAL, as in StackStorm's st2common.log: at that level only audit records pass.
AUDIT = logging.CRITICAL + 10
LOG_LEVELS = {"AUDIT": AUDIT, "CRITICAL": logging.CRITICAL, "ERROR": logging.ERROR,
              "WARNING": logging.WARNING, "INFO": logging.INFO, "DEBUG": logging.DEBUG}


def load_action_class(path):
    """The first class in the module at `path` that subclasses Action."""
    from st2common.runners.base_action import Action

    module = load_module(path)
    module_name = module.__name__
    # StackStorm takes the first concrete subclass by name; classes defined in the module
    # itself come first here, so an imported base class with a run() is not picked instead.
    found = [cls for _, cls in inspect.getmembers(module, inspect.isclass)
             if issubclass(cls, Action) and cls is not Action and not inspect.isabstract(cls)]
    found.sort(key=lambda cls: cls.__module__ != module_name)
    if found:
        return found[0]
    raise ValueError('Unable to find Action class in "%s"' % path)


def configure_logging(level_name):
    """The root logger writes to stderr at `level_name`. The handler is made once: a warm
    interpreter makes it before it forks (its children's stderr is descriptor 2, as its own), so
    a child only sets the level."""
    logging.addLevelName(AUDIT, "AUDIT")
    root = logging.getLogger()
    if not any(getattr(handler, "st2d_shim", False) for handler in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s [-] %(message)s"))
        handler.st2d_shim = True
        root.addHandler(handler)
    root.setLevel(LOG_LEVELS.get(str(level_name).upper(), logging.DEBUG))


def serializable(result):
    try:
        json.dumps(result)
        return result
    except (TypeError, ValueError):
        return str(result)


def finish(code):
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main():
    connection = RequestConnection(os.environ["ST2D_SHIM_SOCKET"], os.environ["ST2D_SHIM_TOKEN"])
    welcome = connection.welcome
    configure_logging(welcome.get("log_level") or "DEBUG")
    try:
        cls = load_action_class(welcome["file"])
        service = ActionService(connection, welcome["pack"], cls.__name__, welcome.get("user"))
        action = cls(config=Config(welcome["pack"], welcome.get("config")), action_service=service)
        output = action.run(**(welcome.get("parameters") or {}))
    except Exception:  # noqa: BLE001 - the traceback is the execution's stderr
        traceback.print_exc()
        finish(1)
    if isinstance(output, tuple) and len(output) == 2:
        status, result = output
    else:
        status, result = None, output
    if status is not None and not isinstance(status, bool):
        sys.stderr.write("Status returned from the action run() method must either be True or False, "
                         "got: %s\n" % (status,))
        sys.stderr.write(INVALID_STATUS_ERROR_MESSAGE)
        finish(INVALID_STATUS_EXIT_CODE)
    sys.stdout.flush()
    connection.request("action.result", result=serializable(result), status=status)
    finish(0)


if __name__ == "__main__":
    main()
