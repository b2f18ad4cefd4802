"""StackStorm's `st2common.models.db`, refused: its models live in StackStorm's database.

Owns: the refusal. Must not: provide any model.
"""
from st2common._st2d_unavailable import DATASTORE_INSTEAD, refuse

refuse(__name__, "StackStorm's database", DATASTORE_INSTEAD)
