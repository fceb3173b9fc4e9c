""".dockerignore: which files of a build context are not sent to the daemon.

The rules are Docker's (moby/patternmatcher, used by the docker CLI):

* one pattern per line; lines starting with ``#`` are comments; blank
  lines are ignored; patterns are cleaned like paths (``./a//b/`` is
  ``a/b``) and a leading ``/`` is dropped: patterns are always relative to
  the context's root;
* Go's ``filepath.Match`` syntax: ``*`` (any characters but ``/``), ``?``
  (one character but ``/``), ``[a-z]`` and ``[^a-z]`` classes, ``\\``
  escapes; plus ``**``, which matches any number of directories (zero
  included): ``**/*.pyc`` matches ``x.pyc`` and ``a/b/x.pyc``;
* a pattern that matches a directory excludes everything under it;
* a pattern starting with ``!`` is an exception: it brings back what earlier
  patterns excluded.  For each path, the *last* pattern that matches it (or
  one of its parent directories) decides.

Two files are always sent whatever the patterns say: ``.dockerignore``
itself and the Dockerfile (the daemon needs both; see :meth:`DockerIgnore.keeping`).
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable, Iterator

from nbdock.errors import InvalidArgument


def parse_dockerignore(text: str) -> list[str]:
    """The patterns of a .dockerignore file, cleaned, in order."""
    patterns = []
    for number, line in enumerate(text.split("\n")):
        if number == 0:
            line = line.removeprefix("\ufeff")
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        exception = pattern.startswith("!")
        if exception:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = _go_clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        patterns.append("!" + pattern if exception else pattern)
    return patterns


def _go_clean(path: str) -> str:
    """Go's ``filepath.Clean``: like ``posixpath.normpath``, but ``//a`` is ``/a``."""
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


class _Pattern:
    """One pattern, compiled to a regular expression over slash-separated paths."""

    def __init__(self, text: str):
        self.exception = text.startswith("!")
        self.text = text[1:] if self.exception else text
        self.regex = re.compile(_translate(self.text), re.DOTALL)

    def matches(self, path: str) -> bool:
        return self.regex.fullmatch(path) is not None

    def matches_path_or_parent(self, path: str) -> bool:
        """A pattern matching a directory also matches everything under it."""
        if self.matches(path):
            return True
        parts = path.split("/")
        return any(self.matches("/".join(parts[:depth])) for depth in range(1, len(parts)))

    def could_match_under(self, directory: str) -> bool:
        """Whether this pattern might match some path strictly inside ``directory``.

        Compares the pattern's leading components with the directory's; a
        ``**`` component can match any depth, so from there on anything is
        possible.  When in doubt, the answer is yes.
        """
        pattern_parts = self.text.split("/")
        for depth, name in enumerate(directory.split("/")):
            if depth >= len(pattern_parts):
                return False
            component = pattern_parts[depth]
            if "**" in component:
                return True
            try:
                if not re.fullmatch(_translate(component), name, re.DOTALL):
                    return False
            except (InvalidArgument, re.error):
                return True  # a component that is not a pattern on its own, e.g. "[a" of "[a/b]"
        return len(pattern_parts) > len(directory.split("/"))


def _translate(pattern: str) -> str:
    """A ``filepath.Match`` pattern with ``**`` as a Python regular expression.

    Raises InvalidArgument for what Go calls a syntax error: an unclosed or
    empty ``[...]`` class, a dangling ``-`` in a class, a trailing ``\\``.
    """
    regex = []
    pos = 0
    while pos < len(pattern):
        ch = pattern[pos]
        pos += 1
        if ch == "*" and pattern.startswith("*", pos):
            pos += 1
            if pattern.startswith("/", pos):
                pos += 1
            # "**" at the end matches everything; elsewhere any number of directories
            regex.append(".*" if pos == len(pattern) else "(?:.*/)?")
        elif ch == "*":
            regex.append("[^/]*")
        elif ch == "?":
            regex.append("[^/]")
        elif ch == "\\":
            if pos == len(pattern):
                raise InvalidArgument(f'syntax error in pattern "{pattern}": trailing backslash')
            regex.append(re.escape(pattern[pos]))
            pos += 1
        elif ch == "[":
            char_class, pos = _translate_class(pattern, pos)
            regex.append(char_class)
        else:
            regex.append(re.escape(ch))
    return "".join(regex)


def _translate_class(pattern: str, pos: int) -> tuple[str, int]:
    """The ``[...]`` class whose ``[`` is just before ``pos``, and the position after its ``]``."""
    negated = pattern.startswith("^", pos)
    if negated:
        pos += 1
    ranges = []
    count = 0
    while True:
        if pos >= len(pattern):
            raise InvalidArgument(f'syntax error in pattern "{pattern}": unclosed [')
        if pattern[pos] == "]" and count:
            break
        low, pos = _class_char(pattern, pos)
        high = low
        if pattern.startswith("-", pos):
            high, pos = _class_char(pattern, pos + 1)
        count += 1
        if low <= high:  # Go accepts a reversed range such as z-a; it matches nothing
            ranges.append(re.escape(low) + "-" + re.escape(high))
    if not ranges:
        return ("." if negated else "(?!)"), pos + 1
    return "[" + ("^" if negated else "") + "".join(ranges) + "]", pos + 1


def _class_char(pattern: str, pos: int) -> tuple[str, int]:
    """One (possibly escaped) character of a class; ``-`` and ``]`` must be escaped."""
    if pos >= len(pattern) or pattern[pos] in "-]":
        raise InvalidArgument(f'syntax error in pattern "{pattern}": bad character class')
    if pattern[pos] == "\\":
        pos += 1
        if pos >= len(pattern):
            raise InvalidArgument(f'syntax error in pattern "{pattern}": trailing backslash')
    return pattern[pos], pos + 1


class DockerIgnore:
    """A compiled .dockerignore.

    >>> ignore = DockerIgnore(["*.log", "build", "!build/keep"])
    >>> ignore.matches("app.log"), ignore.matches("build/x.o"), ignore.matches("build/keep")
    (True, True, False)
    """

    def __init__(self, patterns: Iterable[str] = ()):
        self.patterns: list[_Pattern] = []
        for text in patterns:
            text = text.strip()
            if not text:
                continue
            text = _go_clean(text)
            if text == "!":
                raise InvalidArgument('illegal exclusion pattern: "!"')
            self.patterns.append(_Pattern(text))

    @classmethod
    def from_context(cls, root: str) -> DockerIgnore:
        """The patterns of ``root/.dockerignore`` (none when the file does not exist)."""
        try:
            with open(os.path.join(root, ".dockerignore"), encoding="utf-8", errors="surrogateescape") as file:
                return cls(parse_dockerignore(file.read()))
        except FileNotFoundError:
            return cls()

    def matches(self, path: str) -> bool:
        """Whether ``path`` (relative to the context root, slash-separated) is excluded."""
        path = _go_clean(path)
        if path == ".":
            return False  # the context itself is never excluded
        excluded = False
        for pattern in self.patterns:
            if pattern.matches_path_or_parent(path):
                excluded = not pattern.exception
        return excluded

    def could_reinclude_under(self, directory: str) -> bool:
        """Whether an exception pattern might bring back something inside an excluded ``directory``.

        If none can, the walk need not look inside it at all.
        """
        return any(pattern.exception and pattern.could_match_under(directory) for pattern in self.patterns)

    def keeping(self, *paths: str) -> DockerIgnore:
        """A copy that never excludes ``paths``: how the docker CLI makes sure the
        Dockerfile and .dockerignore are always sent."""
        kept = DockerIgnore()
        kept.patterns = list(self.patterns)
        for path in paths:
            if kept.matches(path):
                kept.patterns.append(_Pattern("!" + _go_clean(path)))
        return kept


def iter_context_files(root: str, ignore: DockerIgnore) -> Iterator[str]:
    """The paths under ``root`` to send, relative and slash-separated, in Docker's order.

    Entries come sorted by name, each directory before its contents (the
    order of Go's ``filepath.Walk``, so the tar is the same every time).
    Symbolic links are listed, never followed.  An excluded directory is not
    entered at all, unless an exception pattern could bring back something
    inside it: then the walk goes in, without listing the directory itself.
    """
    yield from _walk(root, "", ignore)


def _walk(root: str, relative_dir: str, ignore: DockerIgnore) -> Iterator[str]:
    with os.scandir(os.path.join(root, relative_dir)) as entries:
        children = sorted(entries, key=lambda entry: os.fsencode(entry.name))  # Go sorts bytes
    for entry in children:
        path = f"{relative_dir}/{entry.name}" if relative_dir else entry.name
        is_dir = entry.is_dir(follow_symlinks=False)
        if not ignore.matches(path):
            yield path
        elif not (is_dir and ignore.could_reinclude_under(path)):
            continue
        if is_dir:
            yield from _walk(root, path, ignore)
