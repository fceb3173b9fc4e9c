"""%dock's own views are an explicit table: each names a command of docker's syntax (or nbdock's)."""

from nbdock.client.syntax import find_command
from nbdock.magics import NbdockMagics


def test_each_view_is_a_command_the_parser_knows():
    assert set(NbdockMagics.VIEWS) == {"api", "layers", "ns", "cgroup", "trace", "net map", "attach", "stats"}
    for name in NbdockMagics.VIEWS:
        command, _ = find_command(name.split())
        assert command.name == name
