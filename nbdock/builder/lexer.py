"""Pass 1 of reading a Dockerfile: text in, split lines out.

Docker reads a Dockerfile in two passes, and so do we.  This is the first
(buildkit's ``frontend/dockerfile/parser``): parser directives at the top
(``# escape=`` and ``# syntax=``), comments, line continuations with the
escape character, then each logical line split into its keyword, its
``--flags`` and its arguments -- the arguments split the way that keyword
wants (a JSON array or words, ``key=value`` pairs...: the *argument forms*
at the end of this module).  Errors here read "failed to parse Dockerfile:
...".  The second pass, which turns a :class:`Line` into a typed
instruction, is :mod:`nbdock.builder.instructions`; :mod:`nbdock.builder.parser`
runs both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..errors import InvalidArgument
from ..goformat import go_quote, is_go_space

DEFAULT_ESCAPE = "\\"


class DockerfileParseError(InvalidArgument):
    """A malformed Dockerfile.  ``line`` is the (1-based) line it is about, when known."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


_DIRECTIVE = re.compile(r"#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*")
_KNOWN_DIRECTIVES = ("escape", "syntax")
_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
_UTF8_BOM = "\ufeff"


@dataclass
class Line:
    """One logical line, split into its parts (what buildkit calls a Node)."""

    keyword: str  # lower case, as written (unknown keywords are reported in pass 2)
    original: str
    flags: list[str]  # "--name=value" words, quotes removed
    args: list[str]
    json_form: bool = False  # the arguments were a JSON array
    start: int = 0
    end: int = 0


class _Directives:
    """Parser directives: ``# name=value`` comments before anything else in the file.

    They end at the first line that is not one: an instruction, an ordinary
    comment, an unknown directive or even an empty line.
    """

    def __init__(self) -> None:
        self.escape = DEFAULT_ESCAPE
        self.done = False
        self.seen: set[str] = set()
        self.continuation = _continuation_pattern(DEFAULT_ESCAPE)

    def look_at(self, line: str) -> None:
        if self.done:
            return
        match = _DIRECTIVE.fullmatch(line)
        if not match or match.group(1).lower() not in _KNOWN_DIRECTIVES:
            self.done = True
            return
        name, value = match.group(1).lower(), match.group(2)
        if name in self.seen:
            raise DockerfileParseError(f"only one {name} parser directive can be used")
        self.seen.add(name)
        if name == "escape":  # `# syntax=` only matters to BuildKit
            if value not in ("\\", "`"):
                raise DockerfileParseError(f"invalid escape token '{value}' does not match ` or \\")
            self.escape = value
            self.continuation = _continuation_pattern(value)


def _continuation_pattern(escape: str) -> re.Pattern:
    """An escape character ending a line continues it on the next line.

    It must not itself be escaped (``\\\\`` at the end of a line is a literal
    backslash); trailing blanks after it are allowed.
    """
    e = re.escape(escape)
    return re.compile(rf"(?:(?<=[^{e}])|^){e}[ \t]*\Z")


def _strip_continuation(line: str, directives: _Directives) -> tuple[str, bool]:
    """``line`` without its continuation character, and whether the logical line ends here."""
    match = directives.continuation.search(line)
    if match:
        return line[: match.start()], False
    return line, True


def _physical_lines(text: str) -> list[str]:
    """Lines as Go's bufio.Scanner gives them: split at "\\n", one trailing "\\r" dropped."""
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    if lines and lines[0].startswith(_UTF8_BOM):
        lines[0] = lines[0][1:]
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _is_comment(raw_line: str) -> bool:
    return raw_line.lstrip().startswith("#")


@dataclass
class _LogicalLine:
    text: str  # continuation lines joined, continuation characters removed
    start: int
    end: int


def _read_logical_lines(physical: list[str], directives: _Directives) -> tuple[list[_LogicalLine], list[str]]:
    """Join continued lines; drop comments and empty lines; collect warnings.

    Comment lines are dropped even in the middle of a continued line, and so
    are empty lines there, with a warning (Docker says they will become
    errors one day).
    """
    logical: list[_LogicalLine] = []
    warnings: list[str] = []
    index = 0
    while index < len(physical):
        raw = physical[index].lstrip()
        index += 1
        start = index
        try:
            directives.look_at(raw)
        except DockerfileParseError as err:
            err.line = start
            raise
        text, complete = _strip_continuation("" if raw.startswith("#") else raw, directives)
        if complete and not text:
            continue
        had_empty_line = False
        while not complete and index < len(physical):
            raw = physical[index]
            index += 1
            if _is_comment(raw):
                continue
            if not raw.strip():
                had_empty_line = True
                continue
            rest, complete = _strip_continuation(raw, directives)
            text += rest
        if had_empty_line:
            warnings.append(f"[WARNING]: Empty continuation line found in:\n    {text}")
        logical.append(_LogicalLine(text, start, index))
    if warnings:
        warnings.append("[WARNING]: Empty continuation lines will become errors in a future release.")
    return logical, warnings


def read_lines(text: str, forms: ArgumentForms) -> tuple[list[Line], str, list[str]]:
    """Pass 1: the logical lines of ``text``, split; its escape character; its warnings.

    ``forms`` tells, for each keyword (lower case), how its arguments are split:
    the instructions module derives it from its one table of keywords.
    """
    directives = _Directives()
    physical = _physical_lines(text)
    logical, warnings = _read_logical_lines(physical, directives)
    if not logical:
        raise DockerfileParseError("file with no instructions", len(physical))
    lines = []
    for line in logical:
        try:
            parsed = split_line(line.text, directives.escape, forms)
        except DockerfileParseError as err:
            err.line = line.start
            raise
        parsed.start, parsed.end = line.start, line.end
        lines.append(parsed)
    return lines, directives.escape, warnings


def split_line(line: str, escape: str, forms: ArgumentForms) -> Line:
    """Split a logical line into keyword, flags and arguments (buildkit's newNodeFromLine)."""
    keyword, rest = _split_keyword(line)
    rest, flags = _extract_flags(rest)
    split_arguments = forms.get(keyword, no_arguments)
    arguments = split_arguments(rest.strip(), escape)
    return Line(keyword, line, flags, arguments.args, arguments.json_form)


def _split_keyword(line: str) -> tuple[str, str]:
    parts = _WHITESPACE.split(line.strip(), maxsplit=1)
    return parts[0].lower(), parts[1] if len(parts) == 2 else ""


def _extract_flags(rest: str) -> tuple[str, list[str]]:
    """Take the leading ``--name=value`` words off the arguments.

    Quotes and backslashes inside a flag word are processed (``--chown="a b"``
    gives ``--chown=a b``); a lone ``--`` ends the flags.
    """
    flags: list[str] = []
    pos = 0
    while True:
        while pos < len(rest) and is_go_space(rest[pos]):
            pos += 1
        if not rest.startswith("--", pos):
            return rest[pos:], flags
        word, pos = _read_flag_word(rest, pos)
        if word == "--":
            return rest[pos:], flags
        flags.append(word)


def _read_flag_word(text: str, pos: int) -> tuple[str, int]:
    """The flag word starting at ``pos``, unquoted, and the position where it ends."""
    word = []
    quote = None
    while pos < len(text):
        ch = text[pos]
        if quote is None and is_go_space(ch):
            break
        if quote is None and ch in "'\"":
            quote = ch
        elif ch == quote:
            quote = None
        elif ch == "\\":
            if pos + 1 < len(text):
                pos += 1
                word.append(text[pos])
        else:
            word.append(ch)
        pos += 1
    return "".join(word), pos


# -- argument forms: the ways a keyword's arguments are split ------------------
#
# Each instruction class names its form (instructions.py); these are the forms.


@dataclass
class Arguments:
    args: list[str] = field(default_factory=list)
    json_form: bool = False


class _NotStringArray(Exception):
    pass


def _parse_json_array(rest: str) -> list[str] | None:
    """The strings of a JSON array, or None when ``rest`` is not one.

    Only the first JSON value counts (text after the closing bracket is
    ignored, as Go's decoder does), and an array holding anything but strings
    is an error rather than "not JSON".
    """
    rest = rest.lstrip()
    if not rest.startswith("["):
        return None
    try:
        value, _ = json.JSONDecoder(parse_constant=_reject_constant).raw_decode(rest)
    except ValueError:
        return None
    if not all(isinstance(item, str) for item in value):
        raise DockerfileParseError("when using JSON array syntax, arrays must be comprised of strings only")
    return value


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")  # Python accepts NaN and Infinity, Go does not


def json_or_shell_string(rest: str, escape: str) -> Arguments:
    """RUN, CMD, ENTRYPOINT, SHELL: a JSON array (exec form), else the text as one string."""
    if not rest:
        return Arguments()
    array = _parse_json_array(rest)
    if array is not None:
        return Arguments(array, json_form=True)
    return Arguments([rest])


def json_or_words(rest: str, escape: str) -> Arguments:
    """ADD, COPY, VOLUME: a JSON array (for paths with spaces), else blank-separated words."""
    array = _parse_json_array(rest)
    if array is not None:
        return Arguments(array, json_form=True)
    return words(rest, escape)


def words(rest: str, escape: str) -> Arguments:
    """FROM, EXPOSE: blank-separated words."""
    return Arguments(_WHITESPACE.split(rest) if rest else [])


def whole_string(rest: str, escape: str) -> Arguments:
    """MAINTAINER, USER, WORKDIR, STOPSIGNAL: everything is one argument, spaces included."""
    return Arguments([rest] if rest else [])


def key_value_pairs(rest: str, escape: str, keyword: str) -> Arguments:
    """ENV, LABEL: ``key value`` (old form, when the first word has no ``=``) or ``k=v ...``.

    Words keep their quotes and escapes; substitution removes them later.
    """
    words = quoted_words(rest, escape)
    if not words:
        return Arguments()
    if "=" not in words[0]:
        parts = _WHITESPACE.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise DockerfileParseError(f"{keyword} must have two arguments")
        return Arguments(parts)
    args = []
    for word in words:
        if "=" not in word:
            raise DockerfileParseError(f"Syntax error - can't find = in {go_quote(word)}. Must be of the form: name=value")
        key, _, value = word.partition("=")
        args += [key, value]
    return Arguments(args)


def names_or_pairs(rest: str, escape: str) -> Arguments:
    """ARG: ``name`` or ``name=default`` words (split into pairs in pass 2)."""
    return Arguments(quoted_words(rest, escape))


def healthcheck_form(rest: str, escape: str) -> Arguments:
    """HEALTHCHECK: a type word (CMD or NONE), then a command as for CMD."""
    if not rest:
        return Arguments()
    kind_end = next((pos for pos, ch in enumerate(rest) if is_go_space(ch)), len(rest))
    command = json_or_shell_string(rest[kind_end:].lstrip(), escape)
    return Arguments([rest[:kind_end], *command.args], json_form=command.json_form)


def subcommand(rest: str, escape: str, forms: ArgumentForms) -> Arguments:
    """ONBUILD: the rest of the line is an instruction of its own.

    It is split now, so that its line errors show now; pass 2 only checks
    which instruction it is (the rest waits until the trigger runs).
    """
    if not rest:
        return Arguments()
    trigger = split_line(rest, escape, forms)
    return Arguments([trigger.keyword, *trigger.args])


def no_arguments(rest: str, escape: str) -> Arguments:
    """An unknown keyword: its arguments do not matter, pass 2 reports it."""
    return Arguments()


def quoted_words(rest: str, escape: str) -> list[str]:
    """Split at blanks outside quotes, keeping the quotes and escapes in the words.

    ``a="b c" d`` gives ``['a="b c"', 'd']``.  The escape character protects
    the next character (a blank, a quote) except inside single quotes.
    """
    words: list[str] = []
    word = ""
    had_quotes = False  # so that '' is kept as a word
    quote = None
    pos = 0
    while pos < len(rest):
        ch = rest[pos]
        if quote is None and is_go_space(ch):
            if word or had_quotes:
                words.append(word)
            word, had_quotes = "", False
            pos += 1
            continue
        if quote is None and ch in "'\"":
            quote, had_quotes = ch, True
        elif ch == quote:
            quote = None
        elif ch == escape and quote != "'":
            if pos + 1 == len(rest):
                break  # an escape at the end of the line is dropped
            word += ch
            pos += 1
            ch = rest[pos]
        word += ch
        pos += 1
    if word or had_quotes:
        words.append(word)
    return words


#: How one keyword's arguments are split: (the text after the flags, the escape character) -> Arguments.
ArgumentForm = Callable[[str, str], "Arguments"]
ArgumentForms = Mapping[str, ArgumentForm]
