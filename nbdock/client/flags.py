"""Docker's command-line syntax, parsed the way the docker CLI parses it.

The docker CLI is written in Go with the ``pflag`` library, whose rules
differ from Python's ``argparse`` in ways users notice:

* short flags combine: ``-it`` is ``-i -t``; a short flag that takes a
  value ends the cluster: ``-dp8080:80`` is ``-d -p 8080:80``;
* a boolean flag can be given a value, but only with ``=``: ``--rm=false``
  (``--rm false`` would make ``false`` the image name);
* for ``run``, ``create`` and ``exec``, flags stop at the first argument
  that is not a flag, because what follows is the container's command:
  in ``run busybox ls -l`` the ``-l`` belongs to ``ls``, not to ``run``;
  other commands accept flags anywhere (``rm web -f``);
* ``--`` ends the flags.

Each command is described by a :class:`Command` (its flags, how many
arguments it takes); :func:`parse` turns a list of words into a
:class:`Parsed` or raises :class:`FlagError` with the CLI's message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TRUE_WORDS = ("1", "t", "T", "true", "TRUE", "True")
FALSE_WORDS = ("0", "f", "F", "false", "FALSE", "False")


class FlagError(Exception):
    """The words do not make a valid command.  ``command`` is the one being parsed (for its help).

    The docker CLI exits 125 for a bad flag or flag value, but 1 for a wrong
    number of arguments.
    """

    def __init__(self, message: str, command: "Command | None" = None, exit_code: int = 125):
        super().__init__(message)
        self.message = message
        self.command = command
        self.exit_code = exit_code


@dataclass(frozen=True)
class Flag:
    """One flag.  ``kind`` says what it holds:

    * ``"bool"``: present or not (``--rm``, ``--rm=false``);
    * ``"value"``: one string, the last one given wins (``--name web``);
    * ``"list"``: every value given, in order (``-e A=1 -e B=2``).
    """

    long: str
    short: str = ""
    kind: str = "bool"
    help: str = ""
    default: Any = None
    metavar: str = ""

    @property
    def key(self) -> str:
        """The name the parsed value is stored under: ``memory-swap`` -> ``memory_swap``."""
        return self.long.replace("-", "_")

    def initial(self) -> Any:
        if self.kind == "bool":
            return bool(self.default)
        if self.kind == "list":
            return list(self.default or [])
        return self.default


@dataclass(frozen=True)
class Command:
    """A command's syntax: ``name`` as typed (``"run"``, ``"volume create"``), its flags and arguments."""

    name: str
    usage: str
    summary: str
    flags: tuple[Flag, ...] = ()
    min_args: int = 0
    max_args: int | None = None
    #: False for commands whose trailing words are another program's command line.
    interspersed: bool = True
    #: Docker's flags that nbdock deliberately does not have: ``(flag, why)``.  Typing one says so,
    #: rather than docker's "unknown flag" -- the flag exists, nbdock refuses it (as its daemon does).
    refused: tuple[tuple[str, str], ...] = ()

    def flag(self, name: str) -> Flag | None:
        for candidate in self.flags:
            if candidate.long == name:
                return candidate
        return None

    def short_flag(self, letter: str) -> Flag | None:
        for candidate in self.flags:
            if candidate.short == letter:
                return candidate
        return None

    def help_text(self, program: str = "docker") -> str:
        """The ``--help`` page, laid out like the CLI's."""
        lines = [f"Usage:  {program} {self.name} {self.usage}".rstrip(), "", self.summary]
        if self.flags:
            lines += ["", "Options:"]
            for flag in sorted(self.flags, key=lambda f: f.long):
                names = (f"-{flag.short}, " if flag.short else "    ") + f"--{flag.long}"
                if flag.kind != "bool":
                    names += f" {flag.metavar or ('list' if flag.kind == 'list' else 'string')}"
                lines.append(f"  {names:<30} {flag.help}".rstrip())
        return "\n".join(lines) + "\n"


@dataclass
class Parsed:
    """The outcome of :func:`parse`: flag values by key, the remaining words, and which flags were given."""

    command: Command
    options: dict[str, Any]
    args: list[str]
    given: set[str] = field(default_factory=set)

    def __getattr__(self, key: str) -> Any:
        try:
            return self.options[key]
        except KeyError:
            raise AttributeError(key) from None


def parse(command: Command, words: list[str], program: str = "docker") -> Parsed:
    """Parse the words after the command name.  ``--help`` is reported as ``options["help"]``.

    ``program`` is how the user invoked us (``nbdock``, ``%dock``), for messages.
    """
    options = {flag.key: flag.initial() for flag in command.flags}
    options["help"] = False
    parsed = Parsed(command, options, [])
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if word == "--":
            parsed.args.extend(words[index:])
            break
        if word.startswith("--") and len(word) > 2:
            index = _long_flag(parsed, word[2:], words, index)
        elif word.startswith("-") and len(word) > 1:
            index = _short_flags(parsed, word[1:], words, index)
        else:
            parsed.args.append(word)
            if not command.interspersed:
                parsed.args.extend(words[index:])
                break
    if not options["help"]:
        _check_arg_count(command, parsed.args, program)
    return parsed


def _long_flag(parsed: Parsed, text: str, words: list[str], index: int) -> int:
    name, has_value, value = text.partition("=")
    if name == "help":
        parsed.options["help"] = True
        return index
    flag = parsed.command.flag(name)
    if flag is None:
        why = dict(parsed.command.refused).get(name)
        if why is not None:
            raise FlagError(f"--{name} is not supported by nbdock: {why}", parsed.command)
        raise FlagError(f"unknown flag: --{name}", parsed.command)
    if flag.kind == "bool":
        _set(parsed, flag, _bool_value(parsed, flag, value) if has_value else True)
        return index
    if not has_value:
        if index >= len(words):
            raise FlagError(f"flag needs an argument: --{name}", parsed.command)
        value, index = words[index], index + 1
    _set(parsed, flag, value)
    return index


def _short_flags(parsed: Parsed, cluster: str, words: list[str], index: int) -> int:
    """A cluster such as ``it``, ``dp8080:80``, ``d=false`` or ``e`` (value in the next word)."""
    position = 0
    while position < len(cluster):
        letter = cluster[position]
        flag = parsed.command.short_flag(letter)
        if flag is None:
            raise FlagError(f"unknown shorthand flag: '{letter}' in -{cluster}", parsed.command)
        rest = cluster[position + 1 :]
        if flag.kind == "bool":
            if rest.startswith("="):
                _set(parsed, flag, _bool_value(parsed, flag, rest[1:]))
                return index
            _set(parsed, flag, True)
            position += 1
            continue
        if rest:
            _set(parsed, flag, rest[1:] if rest.startswith("=") else rest)
            return index
        if index >= len(words):
            raise FlagError(f"flag needs an argument: '{letter}' in -{cluster}", parsed.command)
        _set(parsed, flag, words[index])
        return index + 1
    return index


def _bool_value(parsed: Parsed, flag: Flag, text: str) -> bool:
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise FlagError(f'invalid argument "{text}" for "--{flag.long}" flag: strconv.ParseBool: parsing "{text}": invalid syntax', parsed.command)


def _set(parsed: Parsed, flag: Flag, value: Any) -> None:
    parsed.given.add(flag.key)
    if flag.kind == "list":
        parsed.options[flag.key].append(value)
    else:
        parsed.options[flag.key] = value


def _check_arg_count(command: Command, args: list[str], program: str) -> None:
    """The CLI's wording: ``'docker rm' requires at least 1 argument``."""
    low, high = command.min_args, command.max_args
    what = f"'{program} {command.name}'"

    def arguments(count: int) -> str:
        return f"{count} argument" + ("" if count == 1 else "s")

    if high == 0 and args:
        raise FlagError(f"{what} accepts no arguments", command, exit_code=1)
    if low == high and len(args) != low:
        raise FlagError(f"{what} requires {arguments(low)}", command, exit_code=1)
    if len(args) < low:
        raise FlagError(f"{what} requires at least {arguments(low)}", command, exit_code=1)
    if high is not None and len(args) > high:
        raise FlagError(f"{what} requires at most {arguments(high)}", command, exit_code=1)
