"""StackStorm's `st2common.util` package: the helpers pack code imports (dates, shell, Jinja)."""
