"""Detach keys: the key sequence that ends ``docker attach`` and leaves the container running.

A client attached to a container with a terminal (``-t``) sends raw key
presses; the daemon watches them for the detach sequence -- ctrl-p ctrl-q
unless the client asks for another (``--detach-keys``, the ``detachKeys``
query parameter, or ``detachKeys`` in ~/.docker/config.json, which docker-py
and the CLI send as that parameter).  When the sequence is typed the daemon
ends the attachment; the process never sees those keys.  A prefix of the
sequence that turns out not to be one is handed on to the process, late but
complete.

Why only with a terminal: without one stdin is a byte stream (a file piped
into ``docker run -i``), where any byte value may occur, and Docker copies it
untouched.

The spelling is Docker's (moby/term's ToBytes): comma-separated keys, each a
single character, ``ctrl-<c>`` for c in ``@ a..z [ \\ ] ^ _`` (the ASCII
control codes 0 to 31, which is what a terminal sends for ctrl-<c>), or
``DEL``.
"""

from __future__ import annotations

from ..errors import InvalidArgument

#: ctrl-p, ctrl-q: Docker's default sequence.
DEFAULT = b"\x10\x11"

#: The names of the control codes 0..31, in code order: ctrl-@ is NUL, ctrl-a is 1, ... ctrl-_ is 31.
CONTROL_NAMES = ["ctrl-@"] + [f"ctrl-{chr(c)}" for c in range(ord("a"), ord("z") + 1)] + \
    ["ctrl-[", "ctrl-\\", "ctrl-]", "ctrl-^", "ctrl-_"]


def parse(spec: str) -> bytes:
    """The bytes of a detach sequence as Docker spells it; "" means the default (ctrl-p,ctrl-q)."""
    if not spec:
        return DEFAULT
    codes = bytearray()
    for key in spec.split(","):
        if len(key) == 1:
            codes += key.encode("latin-1", errors="replace")
        elif key in CONTROL_NAMES:
            codes.append(CONTROL_NAMES.index(key))
        elif key == "DEL":
            codes.append(127)
        else:
            raise InvalidArgument(f"Invalid detach keys ({spec}) provided")
    return bytes(codes)


class DetachScanner:
    """Watches a client's input for the detach sequence, across however the bytes arrive."""

    def __init__(self, keys: bytes):
        self.keys = keys
        self.matched = 0  # how many bytes of the sequence the input ends with, held back so far

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """(the bytes to hand to the process now, whether the sequence is complete).

        Once complete, whatever followed it in ``data`` is dropped: the client has detached.
        """
        out = bytearray()
        for byte in data:
            if self.matched and byte != self.keys[self.matched]:
                # Not the sequence after all: the held-back keys go through, and this byte
                # is looked at afresh (it may begin the sequence).
                out += self.keys[:self.matched]
                self.matched = 0
            if byte == self.keys[self.matched]:
                self.matched += 1
                if self.matched == len(self.keys):
                    self.matched = 0
                    return bytes(out), True
            else:
                out.append(byte)
        return bytes(out), False
