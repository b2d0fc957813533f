"""The errors embercast raises on purpose, under one base class.

The command line prints an :class:`EmbercastError` as one ``error: ...`` line and exits with
status 2; anything else escaping is a defect and shows its traceback. Each error also keeps the
built-in class it refines (``ValueError`` for bad input, ``OSError`` for an unusable location),
so callers that catch those keep working.
"""

from __future__ import annotations

__all__ = ["EmbercastError", "InputError"]


class EmbercastError(Exception):
    """Base of every error embercast raises on purpose; the message says what is wrong and,
    where it can, what to do."""


class InputError(EmbercastError, ValueError):
    """An argument, a setting or the content of a file that cannot be used; the message names
    it and the value found."""
