"""StackStorm's `st2common.content` package: where pack files are (`utils`)."""
