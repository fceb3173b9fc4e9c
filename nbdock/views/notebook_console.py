"""The console of the magics: a notebook cell instead of a terminal.

Differences from the CLI's console, all because a cell is not a terminal:

* listings (``ps``, ``images``...) become a pandas DataFrame -- the cell's
  result -- instead of aligned text (unless ``-q`` or ``--format`` asked
  for text);
* progress (pull, push, build) is one live block per layer, redrawn in
  place, and build output streams line by line;
* there is no stdin to type into and no terminal: ``-it`` is refused with
  the CLI's message, binary output must go to a file, and commands that
  would ask "are you sure?" need ``-f``.
"""

from __future__ import annotations

import sys
from typing import Iterable

import pandas
from IPython.display import display

from nbdock.client.console import Console
from nbdock.client.errors import CommandError
from nbdock.client.formatting import Listing, prepare_format, render_template
from nbdock.client.streams import message_error


class NotebookConsole(Console):
    def __init__(self):
        # The kernel swaps sys.stdout per cell: look it up now, not at import.
        super().__init__(sys.stdout, sys.stderr, stdin=None)
        #: The DataFrame a listing command produced: the magic returns it.
        self.frame: pandas.DataFrame | None = None
        #: The last "Step N/M : ..." line of a build, to name the step that failed.
        self.last_step: str | None = None

    def listing(self, listing: Listing, format_text: str | None = None, quiet: bool = False) -> None:
        if quiet or (format_text and not format_text.startswith("table")):
            super().listing(listing, format_text, quiet)
            return
        self.frame = listing_frame(listing, format_text)

    def table(self, headers: list[str], rows: list[list[str]], min_width: int = 10) -> None:
        self.frame = pandas.DataFrame(rows, columns=headers)

    def progress(self, messages: Iterable[dict], to_stderr: bool = False) -> list[dict]:
        """Build output streams as it comes; per-layer statuses (pull/push) live in one redrawn block."""
        statuses: dict[str, str] = {}
        handle = None
        aux = []
        for message in messages:
            error = message_error(message)
            if error:
                raise error
            if "aux" in message:
                aux.append(message["aux"])
            elif "stream" in message:
                text = message["stream"]
                if text.startswith("Step "):
                    self.last_step = text.strip()
                self.out(text)
            elif message.get("id") and "status" in message:
                statuses[message["id"]] = f"{message['status']} {message.get('progress', '')}".rstrip()
                block = _StatusBlock(statuses)
                if handle is None:
                    handle = display(block, display_id=True)
                else:
                    handle.update(block)
            elif "status" in message:
                self.out(message["status"] + "\n")
        return aux

    def binary_output(self, chunks) -> None:
        raise CommandError("a notebook cell cannot hold a tar stream: write it to a file with -o FILE")

    def confirm(self, warning: str) -> bool:
        raise CommandError(f"{warning}\nA notebook cell cannot answer 'are you sure?': add -f to go ahead.")


class _StatusBlock:
    """Layer id -> status lines, shown as plain text (renders in any front end, no widgets needed)."""

    def __init__(self, statuses: dict[str, str]):
        self.text = "\n".join(f"{layer}: {status}" for layer, status in statuses.items())

    def __repr__(self) -> str:
        return self.text


def listing_frame(listing: Listing, format_text: str | None = None) -> pandas.DataFrame:
    """A listing as a DataFrame: the columns the (table) format shows, under docker's headers."""
    _, template = prepare_format(format_text or listing.default_format)
    cells = [cell for cell in template.split("\t") if cell.strip()]
    headers = [render_template(cell, _HeaderRecord(listing.headers)) for cell in cells]
    rows = [[render_template(cell, row) for cell in cells] for row in listing.rows]
    return pandas.DataFrame(rows, columns=headers)


class _HeaderRecord(dict):
    """Answers every field with its column header (``ID`` -> ``CONTAINER ID``), as the CLI renders a table's header."""

    def __init__(self, headers: dict[str, str]):
        super().__init__()
        self.headers = headers

    def __contains__(self, key) -> bool:
        return True

    def __getitem__(self, key: str) -> str:
        return self.headers.get(key, key.upper())
