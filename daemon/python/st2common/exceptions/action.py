"""Action exceptions of StackStorm's `st2common.exceptions.action`.

Owns: these classes. Must not: raise them itself (pack code does).
"""
from st2common.exceptions import StackStormBaseException

__all__ = ["ParameterRenderingFailedException", "InvalidActionReferencedException",
           "InvalidActionParameterException"]


class ParameterRenderingFailedException(StackStormBaseException):
    """A parameter's Jinja template could not be rendered."""


class InvalidActionReferencedException(StackStormBaseException):
    """An action ref names no action."""


class InvalidActionParameterException(StackStormBaseException):
    """A parameter the action does not accept, or an invalid value."""
