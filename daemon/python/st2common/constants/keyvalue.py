"""Datastore constants of StackStorm's `st2common.constants.keyvalue`: scope names and
separators.

Owns: these values. Must not: hold logic. (st2d's datastore has the system scope only; the
names of the others are here for code that compares against them.)
"""

ALL_SCOPE = "all"

DATASTORE_PARENT_SCOPE = "st2kv"
DATASTORE_SCOPE_SEPARATOR = "."  # "st2kv" + "." + scope

SYSTEM_SCOPE = "system"
FULL_SYSTEM_SCOPE = DATASTORE_PARENT_SCOPE + DATASTORE_SCOPE_SEPARATOR + SYSTEM_SCOPE
SYSTEM_SCOPES = [SYSTEM_SCOPE]

USER_SCOPE = "user"
FULL_USER_SCOPE = DATASTORE_PARENT_SCOPE + DATASTORE_SCOPE_SEPARATOR + USER_SCOPE
USER_SCOPES = [USER_SCOPE]

USER_SEPARATOR = ":"
DATASTORE_KEY_SEPARATOR = ":"

ALLOWED_SCOPES = [SYSTEM_SCOPE, USER_SCOPE, FULL_SYSTEM_SCOPE, FULL_USER_SCOPE]
