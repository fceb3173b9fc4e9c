"""How Go writes and reads things, for the places where Docker's output shows it.

Docker is written in Go, and the docker CLI shows users strings its daemon
formatted with Go's ``fmt`` verbs (``%q`` quoting in error messages, ``%v``
and ``%q`` of string lists in ``docker history``), Go's duration syntax
(``HEALTHCHECK --interval=1m30s``) and Go's idea of white space.  nbdock
reproduces them exactly, here and nowhere else, because students compare
the two engines' output character by character.
"""

from __future__ import annotations

import re

from .errors import InvalidArgument


def go_quote(text: str) -> str:
    """``text`` quoted the way Go's ``%q`` does it, as Docker's error messages show words."""
    escapes = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t", "\v": r"\v"}
    quoted = []
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            quoted.append("\\" + ch)
        elif ch in escapes:
            quoted.append(escapes[ch])
        elif 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, kept by "surrogateescape"
            quoted.append(f"\\x{code - 0xDC00:02x}")
        elif ch.isprintable():
            quoted.append(ch)
        elif code < 0x80:
            quoted.append(f"\\x{code:02x}")
        elif code < 0x10000:
            quoted.append(f"\\u{code:04x}")
        else:
            quoted.append(f"\\U{code:08x}")
    return '"' + "".join(quoted) + '"'


def is_go_space(ch: str) -> bool:
    """Go's ``unicode.IsSpace``: Python's ``isspace`` minus the ASCII separators 0x1c-0x1f."""
    return ch.isspace() and ch not in "\x1c\x1d\x1e\x1f"


def go_quoted_list(items: list[str] | None) -> str:
    """A string list as Go's ``%q`` prints it: ``["sh" "-c" "echo hi"]``."""
    return "[" + " ".join(go_quote(item) for item in items or []) + "]"


def go_list(items: list[str] | None) -> str:
    """A string list as Go's ``%v`` prints it: ``[/bin/sh -c]``."""
    return "[" + " ".join(items or []) + "]"


def go_duration(nanoseconds: int) -> str:
    """A duration as Go's ``time.Duration.String`` writes it: ``5s``, ``1m30s``, ``1h0m0s``, ``1.5ms``."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    value = abs(nanoseconds)
    if value < 1_000:
        return f"{sign}{value}ns"
    if value < 1_000_000:
        return sign + _with_fraction(value, 3) + "\u00b5s"
    if value < 1_000_000_000:
        return sign + _with_fraction(value, 6) + "ms"
    seconds = _with_fraction(value % 60_000_000_000, 9) + "s"
    hours, minutes = divmod(value // 60_000_000_000, 60)
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{sign}{minutes}m{seconds}"
    return sign + seconds


def _with_fraction(value: int, digits: int) -> str:
    """``value / 10**digits`` in decimal, without trailing zeros (``1500, 3`` -> ``1.5``)."""
    whole, fraction = divmod(value, 10**digits)
    if not fraction:
        return str(whole)
    return f"{whole}." + f"{fraction:0{digits}d}".rstrip("0")


def go_quote_rune(code: int) -> str:
    """A number as Go's ``%q`` prints an integer: the character it codes, quoted (``3`` -> ``'\\x03'``)."""
    character = chr(code)
    if character == "'":
        return "'\\''"
    if character == '"':
        return "'\"'"
    return "'" + go_quote(character)[1:-1] + "'"


#: Go's duration units (time.ParseDuration).
_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


def parse_go_duration(text: str) -> int:
    """A Go duration ("1m30s", "1.5h", "300ms") in nanoseconds, as HEALTHCHECK flags take them."""
    rest = text
    sign = -1 if rest.startswith("-") else 1
    rest = rest[1:] if rest[:1] in ("-", "+") else rest
    if rest == "0":
        return 0
    if not rest:
        raise InvalidArgument(f"time: invalid duration {go_quote(text)}")
    total = 0
    while rest:
        number = re.match(r"([0-9]*)(?:\.([0-9]*))?", rest)
        whole, fraction = number.group(1), number.group(2) or ""
        if not whole and not fraction:
            raise InvalidArgument(f"time: invalid duration {go_quote(text)}")
        rest = rest[number.end() :]
        unit = re.match(r"[^0-9.]*", rest).group(0)
        if not unit:
            raise InvalidArgument(f"time: missing unit in duration {go_quote(text)}")
        if unit not in _DURATION_UNITS:
            raise InvalidArgument(f"time: unknown unit {go_quote(unit)} in duration {go_quote(text)}")
        rest = rest[len(unit) :]
        scale = _DURATION_UNITS[unit]
        total += int(whole or 0) * scale + (int(fraction) * scale // 10 ** len(fraction) if fraction else 0)
    if total >= 2**63:
        raise InvalidArgument(f"time: invalid duration {go_quote(text)}")
    return sign * total
