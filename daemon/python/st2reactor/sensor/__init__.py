"""StackStorm's `st2reactor.sensor` package."""
