"""StackStorm's `st2common.transport`, refused: it needs StackStorm's message bus (RabbitMQ).

Owns: the refusal. Must not: publish anything.
"""
from st2common._st2d_unavailable import refuse

refuse(__name__, "StackStorm's message bus (RabbitMQ)",
       "dispatch triggers with sensor_service.dispatch, and run actions or read executions with st2client")
