"""StackStorm's `st2reactor.container` package."""
