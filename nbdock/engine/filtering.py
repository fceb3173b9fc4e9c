"""The value checks shared by the ``filters`` of Docker's listings (ps, images, volume ls, prune...)."""

from __future__ import annotations

import contextlib
import re
import time

from ..errors import InvalidArgument
from . import clock


def truth(values: list[str], name: str) -> bool:
    """A true/false filter such as ``dangling``, with Docker's error for anything else."""
    if any(value.lower() not in ("true", "1", "false", "0") for value in values):
        raise InvalidArgument(f"Invalid filter '{name}=[{' '.join(values)}]'")
    return any(value.lower() in ("true", "1") for value in values)


def labels_match(labels: dict[str, str], wanted: list[str], unwanted: list[str] = ()) -> bool:
    """``label=key`` / ``label=key=value`` (all must hold) and ``label!=...`` (none may)."""
    def has(selector: str) -> bool:
        key, sep, value = selector.partition("=")
        return key in labels and (not sep or labels[key] == value)

    return all(has(selector) for selector in wanted) and not any(has(selector) for selector in unwanted)


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def point_in_time(value: str, now: float | None = None) -> float:
    """``until=``/``since=``: a Unix time ("1700000000.5"), an RFC 3339 time, or a Go duration
    back from now ("24h", "1h30m", "10s"), as a Unix time."""
    now = time.time() if now is None else now
    with contextlib.suppress(ValueError):
        return float(value)
    parts = _DURATION_PART.findall(value)
    if parts and "".join(number + unit for number, unit in parts) == value:
        return now - sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)
    try:
        return clock.parse_rfc3339(value)
    except ValueError:
        raise InvalidArgument(f"invalid time {value!r}: expected a Unix time, an RFC 3339 time or a duration such as 24h") from None


def created_before(created: str, values: list[str]) -> bool:
    """The ``until`` filter of the prunes: created before every time given."""
    return all(clock.parse_rfc3339(created) < point_in_time(value) for value in values)
