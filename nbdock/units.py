"""Durations in the words Docker prints them (github.com/docker/go-units).

Both sides need them: the engine for a container's ``Status`` ("Up 5
seconds", "Exited (0) 2 minutes ago") and the clients for ``CREATED``
columns ("3 days ago"), so they live here, apart from either.
"""

from __future__ import annotations


def human_duration(seconds: float) -> str:
    """go-units' HumanDuration: "Less than a second", "About a minute", "3 hours", "2 weeks"..."""
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
    hours = int(seconds / 3600 + 0.5)  # Go rounds the hours half up
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
