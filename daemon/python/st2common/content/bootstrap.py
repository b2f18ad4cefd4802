"""StackStorm's `st2common.content.bootstrap`, refused: it registers content in StackStorm's
database.

Owns: the refusal. Must not: register anything.
"""
from st2common._st2d_unavailable import refuse

refuse(__name__, "StackStorm's database to register content in",
       "st2d loads packs itself when their files change; run `st2ctl reload` to rescan them")
