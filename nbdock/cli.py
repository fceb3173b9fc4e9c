"""The ``nbdock`` command: docker's command line, for nbdock's daemon.

    nbdock daemon --host unix:///run/nbdock/nbdock.sock --data-root /var/lib/nbdock
    nbdock [-H HOST] COMMAND [OPTIONS] [ARGS...]      (run, ps, images, build, ...)

``nbdock daemon`` hands over to the daemon itself; everything else is
parsed with docker's syntax and carried out through docker-py, so that
``nbdock ps`` and ``docker ps`` send the same requests and print the same
table.  Exit codes are docker's: 125 when the engine could not run a
container, 126/127 when its command cannot be executed / was not found,
the container's own code for ``run``, ``start -a`` and ``wait``, and 1 for
other failures.
"""

from __future__ import annotations

import os
import sys

from nbdock import __version__
from nbdock.client.errors import client_errors, translate
from nbdock.client.flags import FlagError
from nbdock.client.syntax import COMMANDS
from nbdock.errors import NbdockError

# The commands' own modules (docker-py, pandas for listings...) are imported by _main, when a
# command runs: `nbdock daemon` must not carry them -- they would double the daemon's memory.

PROGRAM = "nbdock"


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:
        # `nbdock ps | head`: the reader went away.  Point stdout at /dev/null so
        # that Python's own flush at exit does not complain a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _main(words: list[str]) -> int:
    try:
        host, words = _global_options(words)
    except FlagError as error:
        print(error.message, file=sys.stderr)
        return error.exit_code
    if words and words[0] == "daemon":
        return _run_daemon(words[1:])
    if not words or words[0] in ("help", "--help"):
        print(usage())  # before any daemon is looked for
        return 0
    if words[0] in ("--version", "-v"):
        print(f"nbdock version {__version__}")
        return 0
    from nbdock.client.commands import Session, parse_words, run_parsed
    from nbdock.client.connection import Connection
    from nbdock.client.console import Console

    try:
        parsed = parse_words(words, PROGRAM)
    except FlagError as error:
        print(_usage_error(error), file=sys.stderr)
        return error.exit_code
    if parsed.options["help"]:  # help needs no daemon
        print(parsed.command.help_text(PROGRAM), end="")
        return 0
    try:
        connection = Connection.open(host, announce=lambda message: print(message, file=sys.stderr))
    except NbdockError as error:
        print(error.message, file=sys.stderr)
        return 1
    console = Console(sys.stdout, sys.stderr, sys.stdin.buffer if sys.stdin else None)
    try:
        return run_parsed(parsed, Session(connection, console, PROGRAM))
    except FlagError as error:  # a flag value the command found wrong (a bad --memory, a bad -p)
        print(_usage_error(error), file=sys.stderr)
        return error.exit_code
    except client_errors() as error:  # the words the magics show too (client/errors.py)
        failure = translate(error, connection.host)
        print(failure.message, file=sys.stderr)
        return failure.exit_code
    except KeyboardInterrupt:
        return 130
    finally:
        connection.close()


def _global_options(words: list[str]) -> tuple[str | None, list[str]]:
    """``-H``/``--host`` before the command, as in ``docker -H unix:///x.sock ps``."""
    host = None
    while words and words[0].startswith("-") and words[0] not in ("--help", "--version", "-v"):
        flag = words.pop(0)
        if flag in ("-H", "--host"):
            if not words:
                raise FlagError(f"flag needs an argument: {flag}")
            host = words.pop(0)
        elif flag.startswith("--host="):
            host = flag.partition("=")[2]
        else:
            raise FlagError(f"unknown flag: {flag}\nSee '{PROGRAM} --help'.")
    return host, words


def _run_daemon(argv: list[str]) -> int:
    try:
        from nbdock.daemon import main as daemon_main
    except ImportError:
        print("nbdock: this installation has no daemon (nbdock.daemon.main is missing)", file=sys.stderr)
        return 1
    return daemon_main(argv)


def _usage_error(error: FlagError) -> str:
    """Docker's layout: the message, the command's usage line, where to find help."""
    command = error.command
    if command is None:
        return error.message
    return (f"{error.message}\n\nUsage:  {PROGRAM} {command.name} {command.usage}\n\n"
            f"Run '{PROGRAM} {command.name} --help' for more information")


def usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [f"Usage:  {PROGRAM} [-H HOST] COMMAND", "",
             "A container engine in Python, with docker's commands.", "", "Commands:",
             f"  {'daemon':<{width}}  Run the nbdock daemon (--host, --data-root, --offline)"]
    lines += [f"  {name:<{width}}  {command.summary}" for name, command in COMMANDS.items()]
    lines += ["", f"Run '{PROGRAM} COMMAND --help' for more information on a command."]
    return "\n".join(lines)
