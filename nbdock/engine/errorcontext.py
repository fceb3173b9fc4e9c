"""An error's message behind the words Docker puts before it, its kind kept.

Docker words some refusals as "<what was being done>: <why>", e.g.
``Cannot update container ID: Memory limit should be ...`` or
``Error when allocating new name: Conflict ...``. The *why* comes from
deeper down as one of nbdock's typed errors (nbdock/errors.py), whose class
decides the HTTP status the daemon answers with (400, 404, 409, 500), so the
context must change the message and nothing else.

This copies the error rather than calling ``type(error)(message)``: a
subclass may take more than a message (``BuildError`` keeps its step's exit
code), and a fresh instance would lose whatever it carries.

A cleanup step that fails must not stop the next one, nor hide a bug:
``warn_and_go_on`` logs it, with its traceback unless nbdock or the host
explains it (an ``NbdockError``, an ``OSError``).
"""

from __future__ import annotations

import copy
import logging
from typing import TypeVar

from nbdock.errors import NbdockError

E = TypeVar("E", bound=NbdockError)


def in_context(error: E, context: str) -> E:
    """A copy of ``error`` whose message reads ``"{context}: {error.message}"``; same class, same attributes."""
    placed = copy.copy(error)
    placed.message = f"{context}: {error.message}"
    placed.args = (placed.message,)
    return placed


def warn_and_go_on(log: logging.Logger, doing: str, error: Exception) -> None:
    """``doing`` failed and what follows goes on: a warning, and the traceback of an error that is a bug."""
    explained = isinstance(error, (NbdockError, OSError))
    log.warning("%s: %s", doing, error if explained else f"{type(error).__name__}: {error}",
                exc_info=None if explained else error)
