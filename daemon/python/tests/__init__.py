"""Unit tests of the shim's StackStorm API modules (not embedded in st2d).

Run from daemon/python: python3 -m unittest discover -s tests -t .
"""
import os
import sys

SHIM_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if SHIM_DIR not in sys.path:
    sys.path.insert(0, SHIM_DIR)


def have(module):
    """True when `module` (a third-party library st2d provides at run time) is importable."""
    try:
        __import__(module)
    except ImportError:
        return False
    return True
