"""StackStorm's legacy `st2actions` package: only the old import path of `Action`.

Owns: nothing but that path. Must not: hold code of its own.
"""
