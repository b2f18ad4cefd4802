"""StackStorm's `st2common.log`: `getLogger` for pack code, the AUDIT level and `LoggingStream`.

Loggers are standard `logging` loggers named "st2.<name>", as in StackStorm. They write where the
shim's logging goes: an action process has a root handler on stderr (set up by the shim); a
sensor process has none, so the first `getLogger` gives the "st2" logger a stderr handler.

Owns: the st2 logger names, the AUDIT level, `Logger.audit`. Must not: configure the root
logger (the shim's entry points do).
"""
import logging
import sys

__all__ = ["getLogger", "LoggingStream", "AUDIT"]

# StackStorm puts AUDIT above CRITICAL, so audit records pass any level filter.
AUDIT = logging.CRITICAL + 10
logging.AUDIT = AUDIT
logging.addLevelName(AUDIT, "AUDIT")

_PREFIX = "st2."


def _audit(self, msg, *args, **kwargs):
    if self.isEnabledFor(AUDIT):
        self._log(AUDIT, msg, args, **kwargs)


if not hasattr(logging.Logger, "audit"):
    logging.Logger.audit = _audit


def _make_record(logger, name, level, fn, lno, msg, args, exc_info, func=None, extra=None, sinfo=None):
    """As Logger.makeRecord, with the keys of `extra` prefixed "_" (as StackStorm does), so a key
    such as "message" or "name" does not clash with the record's own attributes."""
    if extra:
        extra = {"_" + str(key): value for key, value in extra.items()}
    return logging.Logger.makeRecord(logger, name, level, fn, lno, msg, args, exc_info, func, extra, sinfo)


def _ensure_output():
    """In a process whose root logger has no handler (a sensor), st2 loggers write to stderr."""
    parent = logging.getLogger("st2")
    if logging.getLogger().handlers or parent.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    parent.addHandler(handler)
    parent.setLevel(logging.DEBUG)
    parent.propagate = False


def getLogger(name):  # noqa: N802 - StackStorm's name
    """The standard logger "st2.<name>" ("st2." is not added twice)."""
    _ensure_output()
    logger = logging.getLogger(name if name.startswith(_PREFIX) else _PREFIX + name)
    if "makeRecord" not in vars(logger):
        logger.makeRecord = lambda *args, **kwargs: _make_record(logger, *args, **kwargs)
    return logger


class LoggingStream(object):
    """A file-like object whose writes are logged at `level` on the logger `name`."""

    def __init__(self, name, level=logging.ERROR):
        self._logger = getLogger(name)
        self._level = level

    def write(self, message):
        message = message.rstrip("\n")
        if message.strip():
            self._logger.log(self._level, message)

    def flush(self):
        pass
