"""Signal names as the Docker API takes them: "KILL", "SIGKILL", "9"."""

from __future__ import annotations

import signal

from ..errors import InvalidArgument


def parse_signal(value: str | int | None, default: int = signal.SIGKILL) -> int:
    """"KILL", "SIGKILL", "9" or 9 -> 9 (``default`` when empty), with Docker's error for anything else."""
    if value in (None, ""):
        return default
    text = str(value).upper()
    if text.isdigit():
        number = int(text)
        if 0 < number < signal.NSIG:
            return number
    else:
        try:
            return signal.Signals["SIG" + text.removeprefix("SIG")].value
        except KeyError:
            pass
    raise InvalidArgument(f"Invalid signal: {value}")
