"""docker's command-line syntax (pflag rules), parsed without a daemon."""

import pytest

from nbdock.client.flags import FlagError, parse
from nbdock.client.syntax import COMMANDS, find_command


def parse_line(*words):
    command, rest = find_command(list(words))
    return parse(command, rest, "nbdock")


def test_short_flags_combine_and_a_value_flag_ends_the_cluster():
    parsed = parse_line("run", "-dit", "-p8080:80", "busybox")
    assert parsed.detach and parsed.interactive and parsed.tty
    assert parsed.publish == ["8080:80"]


def test_value_after_equals_or_in_the_next_word():
    parsed = parse_line("run", "--name=web", "-e", "A=1", "--env", "B=2", "busybox")
    assert parsed.name == "web"
    assert parsed.env == ["A=1", "B=2"]


def test_boolean_flag_takes_a_value_only_with_equals():
    assert parse_line("run", "--rm=false", "busybox").rm is False
    assert parse_line("run", "--sig-proxy=0", "busybox").sig_proxy is False
    with pytest.raises(FlagError, match='invalid argument "maybe" for "--rm"'):
        parse_line("run", "--rm=maybe", "busybox")


def test_run_stops_at_the_image_so_the_command_keeps_its_own_flags():
    parsed = parse_line("run", "--rm", "busybox", "sh", "-c", "ls -l", "--rm")
    assert parsed.args == ["busybox", "sh", "-c", "ls -l", "--rm"]


def test_other_commands_take_flags_anywhere():
    parsed = parse_line("rm", "web", "-f", "db")
    assert parsed.force and parsed.args == ["web", "db"]


def test_double_dash_ends_flags():
    assert parse_line("rm", "--", "-f").args == ["-f"]


def test_unknown_flags_are_named_and_exit_125():
    with pytest.raises(FlagError) as error:
        parse_line("ps", "--bogus")
    assert error.value.message == "unknown flag: --bogus" and error.value.exit_code == 125
    with pytest.raises(FlagError, match="unknown shorthand flag: 'x' in -x"):
        parse_line("ps", "-x")


def test_missing_value():
    with pytest.raises(FlagError, match="flag needs an argument: --name"):
        parse_line("create", "--name")


def test_argument_counts_use_the_cli_wording_and_exit_1():
    with pytest.raises(FlagError) as error:
        parse_line("rm")
    assert error.value.message == "'nbdock rm' requires at least 1 argument" and error.value.exit_code == 1
    with pytest.raises(FlagError, match="'nbdock rename' requires 2 arguments"):
        parse_line("rename", "a")
    with pytest.raises(FlagError, match="'nbdock ps' accepts no arguments"):
        parse_line("ps", "extra")


def test_help_skips_argument_checks():
    parsed = parse_line("rm", "--help")
    assert parsed.options["help"]
    assert "Usage:  nbdock rm [OPTIONS] CONTAINER [CONTAINER...]" in parsed.command.help_text("nbdock")


def test_management_command_spellings():
    assert find_command(["container", "ls"])[0].name == "ps"
    assert find_command(["container", "run", "busybox"])[0].name == "run"
    assert find_command(["image", "rm", "x"])[0].name == "rmi"
    assert find_command(["volume", "create"])[0].name == "volume create"
    with pytest.raises(FlagError, match='unknown command: "volume frobnicate"'):
        find_command(["volume", "frobnicate"])
    with pytest.raises(FlagError, match='"network" needs a subcommand'):
        find_command(["network"])


def test_every_command_the_engine_supports_is_there():
    wanted = """run create start attach exec logs ps rm stop kill restart pause unpause wait inspect rename port
    top stats cp diff commit export history images rmi tag pull push login logout save load import build""".split()
    wanted += ["image prune", "volume create", "volume ls", "volume inspect", "volume rm", "volume prune",
               "network create", "network ls", "network inspect", "network rm", "network connect",
               "network disconnect", "system df", "events", "version", "info"]
    assert set(wanted) <= set(COMMANDS)


def test_run_knows_every_flag_of_the_issue():
    run = COMMANDS["run"]
    for name in ("detach interactive tty rm name env env-file workdir user publish publish-all volume volumes-from "
                 "mount tmpfs read-only memory memory-swap cpus cpu-shares pids-limit hostname entrypoint network "
                 "network-alias restart label cap-add cap-drop stop-signal stop-timeout init").split():
        assert run.flag(name) is not None, name
    assert run.short_flag("m").long == "memory" and run.short_flag("h").long == "hostname"


@pytest.mark.parametrize("flag", ["--device=/dev/sda", "--gpus=all", "--cgroup-parent=x", "--storage-opt=size=1G"])
def test_a_docker_flag_nbdock_refuses_says_so_rather_than_unknown(flag):
    for command in ("run", "create"):
        with pytest.raises(FlagError, match=rf"^{flag.split('=')[0]} is not supported by nbdock: ") as raised:
            parse_line(command, flag, "busybox")
        assert raised.value.exit_code == 125
    with pytest.raises(FlagError, match="^unknown flag: --no-such-flag$"):
        parse_line("run", "--no-such-flag", "busybox")


def test_userns_is_passed_to_the_daemon_which_takes_host():
    from nbdock.client.container_config import create_body

    assert create_body(parse_line("run", "--userns=host", "busybox")).body["HostConfig"]["UsernsMode"] == "host"
    assert create_body(parse_line("run", "busybox")).body["HostConfig"]["UsernsMode"] == ""
