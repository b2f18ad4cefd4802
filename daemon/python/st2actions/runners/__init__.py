"""StackStorm's legacy `st2actions.runners` package (see `pythonrunner`)."""
