"""Where a command's output goes and where its input comes from.

The commands never print directly: they hand text, container output,
listings and progress messages to a :class:`Console`.  The ``nbdock`` CLI
uses this class with the process's own stdin/stdout/stderr (and a terminal,
when there is one); the magics use a subclass that shows listings as
DataFrames and progress as a live table in the cell.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import shutil
import sys
import termios
import tty
from typing import BinaryIO, Iterable, Iterator, TextIO

from .errors import CommandError
from .formatting import Listing, render_listing, tabwrite
from .streams import STDERR, STDOUT, message_error, message_line


class Console:
    def __init__(self, stdout: TextIO | None = None, stderr: TextIO | None = None, stdin: BinaryIO | None = None):
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.stdin = stdin
        # Container output arrives in arbitrary pieces: a UTF-8 character may
        # be split between two of them, so text is decoded incrementally.
        self._decoders = {stream: codecs.getincrementaldecoder("utf-8")(errors="replace") for stream in (STDOUT, STDERR)}

    # -- text -------------------------------------------------------------

    def out(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()

    def err(self, text: str) -> None:
        self.stderr.write(text)
        self.stderr.flush()

    def container_output(self, stream: int, data: bytes) -> None:
        """Bytes a container wrote, passed on untouched when the destination takes bytes."""
        target = self.stderr if stream == STDERR else self.stdout
        binary = getattr(target, "buffer", None)
        if binary is not None:
            target.flush()
            binary.write(data)
            binary.flush()
        else:
            target.write(self._decoders[STDERR if stream == STDERR else STDOUT].decode(data))
            target.flush()

    def binary_output(self, chunks: Iterable[bytes]) -> None:
        """A tar stream (``save``, ``export`` without ``-o``): only to a file or a pipe, never a terminal."""
        if self.stdout.isatty():
            raise CommandError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
        binary = self.stdout.buffer
        for chunk in chunks:
            binary.write(chunk)
        binary.flush()

    # -- structured output -------------------------------------------------

    def listing(self, listing: Listing, format_text: str | None = None, quiet: bool = False) -> None:
        self.out(render_listing(listing, format_text, quiet))

    def table(self, headers: list[str], rows: list[list[str]], min_width: int = 10) -> None:
        """A plain table (``top``): tab-aligned like the CLI's."""
        self.out(tabwrite(["\t".join(headers), *("\t".join(row) for row in rows)], min_width=min_width))

    def progress(self, messages: Iterable[dict], to_stderr: bool = False) -> list[dict]:
        """Show a JSON message stream (pull, push, build...); returns its ``aux`` payloads.

        On a terminal each layer keeps one line, rewritten in place as its
        progress bar moves (as ``docker pull`` does); elsewhere progress-bar
        updates are left out.  The first error ends the command.
        """
        write = self.err if to_stderr else self.out
        on_terminal = (self.stderr if to_stderr else self.stdout).isatty()
        line_of_id: dict[str, int] = {}
        lines_written = 0
        aux = []
        for message in messages:
            error = message_error(message)
            if error:
                raise error
            if "aux" in message:
                aux.append(message["aux"])
                continue
            if on_terminal and message.get("id") and "status" in message:
                text = f"{message['id']}: {message['status']} {message.get('progress', '')}".rstrip()
                if message["id"] in line_of_id:
                    up = lines_written - line_of_id[message["id"]]
                    write(f"\x1b[{up}A\x1b[2K\r{text}\n" + (f"\x1b[{up - 1}B" if up > 1 else ""))
                    continue
                line_of_id[message["id"]] = lines_written
                write(text + "\n")
                lines_written += 1
                continue
            line = message_line(message)
            if line is not None:
                write(line)
                lines_written += line.count("\n")
        return aux

    def confirm(self, warning: str) -> bool:
        """The CLI's ``Are you sure you want to continue? [y/N]``: yes only if "y" is read from stdin."""
        self.out(f"{warning}\nAre you sure you want to continue? [y/N] ")
        answer = self.stdin.readline() if self.stdin is not None else b""
        return answer.strip().lower() in (b"y", b"yes")

    # -- the terminal ------------------------------------------------------

    def has_terminal(self) -> bool:
        """Whether stdin is a terminal the user types into (``-t`` needs one with ``-i``)."""
        return self.stdin is not None and self.stdin.isatty()

    def terminal_size(self) -> tuple[int, int]:
        """(rows, columns) of our terminal, or (0, 0) without one."""
        if not self.stdout.isatty():
            return (0, 0)
        size = shutil.get_terminal_size()
        return (size.lines, size.columns)

    @contextlib.contextmanager
    def raw_terminal(self) -> Iterator[None]:
        """Put the terminal in raw mode while a ``-it`` container owns it.

        Raw mode hands every key straight to the container's terminal (its
        own line discipline does the echo and the Ctrl-C), instead of our
        terminal editing lines and turning Ctrl-C into a signal for us.
        """
        if not self.has_terminal():
            yield
            return
        descriptor = self.stdin.fileno()
        saved = termios.tcgetattr(descriptor)
        tty.setraw(descriptor)
        try:
            yield
        finally:
            termios.tcsetattr(descriptor, termios.TCSADRAIN, saved)

    def read_stdin(self) -> bytes:
        """The next bytes typed or piped in (empty at end of input)."""
        if self.stdin is None:
            return b""
        return os.read(self.stdin.fileno(), 4096)
