"""Refusing the parts of StackStorm's `st2common` that need its database, message bus or
services: importing them raises `ServiceUnavailableImportError` naming what to use under st2d.

Owns: that error and its messages. Must not: be imported by pack code directly.
"""

DATASTORE_INSTEAD = ("use the action_service/sensor_service datastore methods (get_value, set_value, "
                     "list_values, delete_value) or st2client")


class ServiceUnavailableImportError(ImportError):
    """A StackStorm module st2d does not provide, because what it needs is not in st2d. An
    ImportError (not ModuleNotFoundError), so `except ImportError` fallbacks still work."""


def refuse(module, needs, instead):
    """Raises the error for `module`, which needs `needs`; `instead` says what to use."""
    raise ServiceUnavailableImportError(
        "%s needs %s, which st2d does not have: %s" % (module, needs, instead), name=module)
