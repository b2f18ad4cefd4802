"""`sensor_service`, as StackStorm's SensorService: dispatch, logger and datastore.

Owns: the pack-author API of a sensor's service. Must not: talk to anything but the shim
connection.
"""
import sys


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


class SensorService(object):
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

    def _name(self, name, local, scope):
        if scope != "system":
            raise ValueError('Invalid scope "%s": sensors may only use the system scope' % scope)
        return self._prefix + name if local else name

    def list_values(self, local=True, prefix=None, limit=None, offset=0):
        full_prefix = (self._prefix if local else "") + (prefix or "")
        return self._connection.request("kv.list", prefix=full_prefix, limit=limit, offset=offset, local=False)

    def get_value(self, name, local=True, scope="system", decrypt=False):
        name = self._name(name, local, scope)
        try:
            return self._connection.request("kv.get", name=name, local=False, scope=scope, decrypt=decrypt)
        except Exception:  # noqa: BLE001 - StackStorm swallows datastore errors here
            return None

    def set_value(self, name, value, ttl=None, local=True, scope="system", encrypt=False):
        name = self._name(name, local, scope)
        self._connection.request("kv.set", name=name, value=str(value), ttl=ttl, local=False,
                                 scope=scope, encrypt=encrypt)
        return True

    def delete_value(self, name, local=True, scope="system"):
        name = self._name(name, local, scope)
        try:
            return bool(self._connection.request("kv.delete", name=name, local=False, scope=scope))
        except Exception:  # noqa: BLE001
            return False
