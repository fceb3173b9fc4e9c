"""Output the way the docker CLI prints it: tables, ``--format`` templates, sizes and durations.

A listing command (``ps``, ``images``...) produces a :class:`Listing`: rows
of named fields (``ID``, ``Image``, ``Status``...) -- the same names
docker's ``--format '{{.Status}}'`` templates use -- plus the column
headers and the default table format.  The CLI prints it as text with
:func:`render_listing`; the magics turn it into a pandas DataFrame.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..units import human_duration  # noqa: F401  (CREATED columns)
from .flags import FlagError

# ---------------------------------------------------------------------------
# Sizes and durations (github.com/docker/go-units)

_DECIMAL_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def human_size(size: float, precision: int = 3) -> str:
    """Decimal units, as ``docker images`` prints sizes: 1_980_000 -> ``1.98MB``."""
    return _scaled(size, 1000.0, _DECIMAL_UNITS, precision)


def binary_size(size: float) -> str:
    """Powers of 1024, as ``docker stats`` prints memory: 1_048_576 -> ``1MiB``."""
    return _scaled(size, 1024.0, _BINARY_UNITS, 4)


def _scaled(size: float, base: float, units: tuple[str, ...], precision: int) -> str:
    index = 0
    while size >= base and index < len(units) - 1:
        size /= base
        index += 1
    return f"{size:.{precision}g}{units[index]}"


def natural_key(text: str) -> list:
    """Sort key for "natural" order, as the CLI lists volumes and networks: ``net2`` before ``net10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def ellipsis(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` characters, the last one an ellipsis, as ``docker ps`` cuts commands."""
    return text if len(text) <= width else text[: width - 1] + "…"


# ---------------------------------------------------------------------------
# Go templates, the subset people use with --format

_ACTION = re.compile(r"{{-?\s*(.*?)\s*-?}}")
_FIELD_PATH = re.compile(r"^\.([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)?$")


def render_template(template: str, record: Any) -> str:
    """Fill a template with a record (a dict: a listing row, or an object's inspect JSON).

    Understood: ``{{.Field}}``, ``{{.A.B}}`` (nested), ``{{.}}``,
    ``{{json .Field}}``, ``{{json .}}`` and ``{{.Field | json}}``.  Anything
    else (``range``, ``if``, functions) is refused by name rather than
    printed wrong.
    """
    def action(match: re.Match) -> str:
        text = match.group(1)
        as_json = False
        if text.startswith("json "):
            as_json, text = True, text[5:].strip()
        elif text.endswith("| json"):
            as_json, text = True, text[: -len("| json")].strip()
        path = _FIELD_PATH.match(text)
        if not path:
            raise FlagError(f"template: nbdock understands {{{{.Field}}}}, {{{{.A.B}}}} and {{{{json .Field}}}}, not {{{{{text}}}}}")
        value = _lookup(record, path.group(1))
        return json.dumps(value) if as_json else go_string(value)

    return _ACTION.sub(action, template)


def _lookup(record: Any, dotted: str | None) -> Any:
    value = record
    for name in (dotted.split(".") if dotted else []):
        if not isinstance(value, Mapping):
            raise FlagError(f"template: can't evaluate field {name} in type {type(value).__name__}")
        if name not in value:
            raise FlagError(f"template: can't evaluate field {name}")
        value = value[name]
    return value


def go_string(value: Any) -> str:
    """A value printed as Go's text/template prints it (``true``, ``map[a:1]``, ``[x y]``, ``<nil>``)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and not math.isinf(value):
        return str(int(value))
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{key}:{go_string(value[key])}" for key in sorted(value)) + "]"
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_string(item) for item in value) + "]"
    return str(value)


def prepare_format(format_text: str) -> tuple[bool, str]:
    """(is a table?, the template): docker strips ``table `` and turns ``\\t``/``\\n`` into tab and newline."""
    is_table = format_text.startswith("table")
    template = format_text[len("table"):] if is_table else format_text
    return is_table, template.strip(" ").replace("\\t", "\t").replace("\\n", "\n")


# ---------------------------------------------------------------------------
# Tables


def tabwrite(lines: list[str], min_width: int = 10, padding: int = 3) -> str:
    """Align tab-separated cells into columns, as Go's ``tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)``.

    A column is as wide as its widest cell plus ``padding``, and at least
    ``min_width``; the last cell of a line is not padded.
    """
    rows = [line.split("\t") for line in lines]
    widths: dict[int, int] = {}
    for cells in rows:
        for index, cell in enumerate(cells[:-1]):
            widths[index] = max(widths.get(index, min_width), len(cell) + padding)
    out = []
    for cells in rows:
        padded = [cell.ljust(widths[index]) for index, cell in enumerate(cells[:-1])]
        out.append("".join(padded) + cells[-1])
    return "\n".join(out) + ("\n" if out else "")


@dataclass
class Listing:
    """Rows of a listing command, with docker's headers and default format.

    ``headers`` maps a field name to its column header (``ID`` -> ``CONTAINER ID``).
    """

    headers: dict[str, str]
    default_format: str
    rows: list[dict] = field(default_factory=list)
    quiet_field: str = "ID"

    def columns(self, format_text: str | None = None) -> list[str]:
        """The fields a table format shows, in order."""
        _, template = prepare_format(format_text or self.default_format)
        return [name for name in re.findall(r"{{\s*(?:json\s+)?\.(\w+)", template)]


def render_listing(listing: Listing, format_text: str | None = None, quiet: bool = False) -> str:
    """The text docker prints for a listing, with ``-q`` or ``--format`` applied."""
    if quiet:
        return "".join(f"{row[listing.quiet_field]}\n" for row in listing.rows)
    is_table, template = prepare_format(format_text or listing.default_format)
    lines = [render_template(template, row) for row in listing.rows]
    if not is_table:
        return "".join(f"{line}\n" for line in lines)
    header = render_template(template, {name: listing.headers.get(name, name.upper()) for name in _fields_of(template)})
    return tabwrite([header, *lines])


def _fields_of(template: str) -> list[str]:
    return re.findall(r"{{\s*(?:json\s+)?\.(\w+)", template)
