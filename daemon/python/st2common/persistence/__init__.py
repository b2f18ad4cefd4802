"""StackStorm's `st2common.persistence`, refused: it needs StackStorm's database.

Owns: the refusal. Must not: provide any model access.
"""
from st2common._st2d_unavailable import DATASTORE_INSTEAD, refuse

refuse(__name__, "StackStorm's database", DATASTORE_INSTEAD)
