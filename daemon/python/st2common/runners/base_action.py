"""`Action`, the base class of StackStorm python-script actions.

Owns: the pack-author action API. Must not: run anything itself.
"""
import abc
import logging

__all__ = ["Action"]


class Action(metaclass=abc.ABCMeta):
    def __init__(self, config=None, action_service=None):
        self.config = config or {}
        self.action_service = action_service
        self.logger = logging.getLogger(self.__class__.__name__)

    @abc.abstractmethod
    def run(self, **kwargs):
        raise NotImplementedError()
