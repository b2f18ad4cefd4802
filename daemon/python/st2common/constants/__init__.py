"""StackStorm's `st2common.constants` package: the constant names pack code reads."""
