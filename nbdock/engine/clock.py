"""Time as the Docker API writes it: RFC 3339 strings, and "Up 5 seconds"-style durations."""

from __future__ import annotations

import time
from datetime import datetime, timezone

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


def human_duration(seconds: float) -> str:
    """Docker's (go-units) HumanDuration: "Less than a second", "About a minute", "3 hours"..."""
    whole = int(seconds)
    if whole < 1:
        return "Less than a second"
    if whole == 1:
        return "1 second"
    if whole < 60:
        return f"{whole} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"
