"""The legacy import path of the action base class: `from st2actions.runners.pythonrunner
import Action` is `st2common.runners.base_action.Action`.

Owns: nothing but the alias. Must not: define a second Action class (the shim looks for
subclasses of the one in base_action).
"""
from st2common.runners.base_action import Action

__all__ = ["Action"]
