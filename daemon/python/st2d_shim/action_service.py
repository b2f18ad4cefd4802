"""`action_service` and the `config` of a python-script action, as StackStorm's ActionService
and the pack config the action wrapper passes.

Owns: the pack-author API of an action's service. Must not: talk to anything but the shim
connection.
"""

from st2d_shim.datastore import DatastoreMixin


class ConfigKeyError(KeyError, ValueError):
    """A config key the pack's config does not have (a KeyError to `except KeyError` code)."""

    def __str__(self):
        return self.args[0] if self.args else ""


class Config(dict):
    """The pack's config: a dict whose missing keys name the config file to fix."""

    def __init__(self, pack, values):
        super(Config, self).__init__(values or {})
        self._pack = pack

    def __missing__(self, key):
        raise ConfigKeyError(
            'Config for pack "%s" is missing key "%s". Make sure that the config file '
            '(configs/%s.yaml) contains this key.' % (self._pack, key, self._pack))


class ActionService(DatastoreMixin):
    def __init__(self, connection, pack, class_name, user):
        self._connection = connection
        self._pack = pack
        self._class_name = class_name
        self._prefix = "%s.%s:" % (pack, class_name)
        self._user = user

    @property
    def datastore_service(self):
        return self

    def get_user_info(self):
        return {"username": self._user, "authentication": {"method": "service"},
                "rbac": {"is_admin": True, "enabled": False, "roles": ["admin"]}}
