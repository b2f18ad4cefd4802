"""The datastore half of `sensor_service` and `action_service` (StackStorm's DatastoreService):
get/set/delete/list values in the system scope, local names prefixed `<pack>.<ClassName>:`.

Owns: the kv.* requests on the shim connection. Must not: know which kind of process uses it.
"""


class DatastoreMixin(object):
    """Needs `self._connection` (a shim Connection) and `self._prefix` (the local prefix)."""

    def _name(self, name, local, scope):
        if scope != "system":
            raise ValueError('Invalid scope "%s": only the system scope is supported' % scope)
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
