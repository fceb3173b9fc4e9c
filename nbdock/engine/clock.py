"""Time as the Docker API writes it: RFC 3339 strings (and, from units.py, "Up 5 seconds"-style durations)."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from ..units import human_duration  # noqa: F401  (the engine's Status lines use it as clock.human_duration)

#: Go's zero time, which Docker prints for "never" (e.g. FinishedAt of a running container).
ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339(timestamp: float | None = None) -> str:
    """A Unix time (default: now, to the nanosecond) as Go's RFC3339Nano prints it: UTC, fractional
    seconds without trailing zeros."""
    nanoseconds = time.time_ns() if timestamp is None else round(timestamp * 1_000_000_000)
    seconds, fraction = divmod(nanoseconds, 1_000_000_000)
    digits = f"{fraction:09d}".rstrip("0")
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + (f".{digits}" if digits else "") + "Z"


def nine_digits(text: str) -> str:
    """One of our RFC 3339 times with exactly nine fractional digits, as ``docker logs -t`` prints them."""
    whole, _, fraction = text.removesuffix("Z").partition(".")
    return f"{whole}.{fraction.ljust(9, '0')}Z"


def parse_rfc3339(text: str) -> float:
    """The Unix time of an RFC 3339 string (0 for Go's zero time)."""
    if not text or text.startswith("0001-01-01"):
        return 0.0
    text = text.replace("Z", "+00:00")
    if "." in text:
        head, rest = text.split(".", 1)
        digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
        zone = rest[len(digits):]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"  # Python reads at most microseconds
    return datetime.fromisoformat(text).timestamp()
