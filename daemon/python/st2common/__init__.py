"""StackStorm's `st2common` package, as much as pack code imports."""
