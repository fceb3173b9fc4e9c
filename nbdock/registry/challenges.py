"""A registry's challenge: the ``WWW-Authenticate`` header of its ``401 Unauthorized`` (RFC 7235).

``Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:x:pull"``
names the token server to ask and what to ask it for; ``Basic realm="..."`` asks for a password.
Read by :mod:`.auth` (to answer it) and :mod:`.transport` (whose errors say why a token was
not enough: ``error="insufficient_scope"``), so it lives below both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class Challenge:
    """One scheme a registry accepts, with its parameters (``realm``, ``service``, ``scope``)."""

    scheme: str  # lower case: "basic" or "bearer"
    params: dict


_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_SCHEME = re.compile(rf"[\s,]*({_TOKEN})(?:\s+|$)")
_PARAM = re.compile(rf'\s*({_TOKEN})\s*=\s*("(?:[^"\\]|\\.)*"|{_TOKEN})\s*,?')


def parse_challenges(header_values: Iterable[str]) -> list[Challenge]:
    """Parse ``WWW-Authenticate`` headers (RFC 7235).

    Parameter values may be quoted strings containing commas
    (``scope="repository:x:pull,push"``), so a split on commas is not enough.
    """
    challenges = []
    for value in header_values:
        position = 0
        while scheme := _SCHEME.match(value, position):
            position = scheme.end()
            params = {}
            while param := _PARAM.match(value, position):
                raw = param.group(2)
                params[param.group(1).lower()] = re.sub(r"\\(.)", r"\1", raw[1:-1]) if raw.startswith('"') else raw
                position = param.end()
            challenges.append(Challenge(scheme.group(1).lower(), params))
    return challenges
