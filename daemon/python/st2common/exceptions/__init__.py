"""StackStorm's `st2common.exceptions`: the roots of its exception classes.

Owns: `StackStormBaseException`, `StackStormPluginException`. Must not: hold st2d's own errors.
"""


class StackStormBaseException(Exception):
    """The root of StackStorm's exceptions."""


class StackStormPluginException(StackStormBaseException):
    """The root of the exceptions of a plug-in API."""
