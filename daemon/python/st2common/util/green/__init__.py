"""StackStorm's `st2common.util.green` package: helpers safe to use under eventlet."""
