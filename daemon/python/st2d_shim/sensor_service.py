"""`sensor_service`, as StackStorm's SensorService: dispatch, logger and datastore.

Owns: the pack-author API of a sensor's service. Must not: talk to anything but the shim
connection.
"""
import sys

from st2d_shim.datastore import DatastoreMixin


def _logger(name):
    import logging  # only sensors that log pay for importing logging

    logger = logging.getLogger(name)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
    return logger


class SensorService(DatastoreMixin):
    def __init__(self, connection, pack, class_name, local_prefix):
        self._connection = connection
        self._pack = pack
        self._class_name = class_name
        self._prefix = local_prefix

    def get_logger(self, name):
        return _logger("SensorWrapper.%s.%s.%s" % (self._pack, self._class_name, name))

    def get_user_info(self):
        return {"username": "sensors_container", "authentication": {"method": "service"},
                "rbac": {"is_admin": True, "enabled": False, "roles": ["admin"]}}

    def dispatch(self, trigger, payload=None, trace_tag=None):
        self._connection.dispatch(trigger, payload, trace_tag=trace_tag)

    def dispatch_with_context(self, trigger, payload=None, trace_context=None):
        self._connection.dispatch(trigger, payload, trace_context=trace_context)
