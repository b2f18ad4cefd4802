"""StackStorm's `st2reactor` package, as much as pack code imports."""
