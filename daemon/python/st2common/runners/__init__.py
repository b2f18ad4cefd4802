"""StackStorm's `st2common.runners` package."""
