"""StackStorm's `st2common.models` package: only `db`, which refuses to import."""
