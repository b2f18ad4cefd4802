"""StackStorm's `st2common.services`, refused: its services need StackStorm's database and
message bus.

Owns: the refusal. Must not: provide any service.
"""
from st2common._st2d_unavailable import refuse

refuse(__name__, "StackStorm's database and message bus",
       "use action_service/sensor_service (datastore, dispatch) or st2client")
