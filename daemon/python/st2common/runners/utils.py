"""Python-runner helpers of StackStorm's `st2common.runners.utils`: the action logger, making an
action instance, and the pack config dict.

Owns: these helpers for pack code (tests of packs call them). Must not: run actions (the shim's
action_main does).
"""
import logging

from st2common import log
from st2d_shim.action_service import Config

__all__ = ["PackConfigDict", "get_logger_for_python_runner_action", "get_action_class_instance"]

# logger name -> logger, so an action's logger gets one handler however often it is asked for
LOGGERS = {}


class PackConfigDict(Config):
    """A pack's config whose missing keys raise an error naming the config file to fix (a
    KeyError and a ValueError, as StackStorm raises ValueError)."""

    def __init__(self, pack_name, *args):
        super(PackConfigDict, self).__init__(pack_name, dict(*args))


def get_logger_for_python_runner_action(action_name, log_level="debug"):
    """The logger "st2.actions.python.<action_name>", writing records of `log_level` and above to
    stderr, as "<name>: <LEVEL> <message>"."""
    name = "actions.python.%s" % action_name
    if name not in LOGGERS:
        level = getattr(logging, str(log_level).upper(), logging.DEBUG)
        logger = log.getLogger(name)
        handler = logging.StreamHandler()
        handler.setLevel(level)
        handler.setFormatter(logging.Formatter("%(name)-12s: %(levelname)-8s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False  # the shim's root handler would print every record twice
        LOGGERS[name] = logger
    return LOGGERS[name]


def get_action_class_instance(action_cls, config=None, action_service=None):
    """An instance of `action_cls` made with `config` and `action_service`; a class whose
    constructor does not take `action_service` gets it set as an attribute instead."""
    try:
        return action_cls(config=config, action_service=action_service)
    except TypeError as error:
        if "unexpected keyword argument 'action_service'" not in str(error):
            raise
    instance = action_cls(config=config)
    instance.action_service = action_service
    return instance
