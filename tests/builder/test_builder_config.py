"""The builder's pure logic about configs: what each instruction does to the config, what it is called in
``docker history``, and which earlier step the cache takes.  The expected strings are Docker 20.10's, as
``docker history --no-trunc`` and ``docker inspect`` show them."""

import pytest

from nbdock.builder.cache import same_step
from nbdock.goformat import go_duration, go_quote_rune
from nbdock.builder.instructions import exposed_ports, normalize_workdir
from nbdock.builder.parser import parse_dockerfile
from nbdock.errors import InvalidArgument


def instruction(line: str):
    """The one instruction of ``FROM x`` + ``line``, variables substituted from an empty environment."""
    (stage,) = parse_dockerfile(f"FROM busybox\n{line}\n").stages
    (parsed,) = stage.commands
    return parsed.expanded({})


def applied(*lines: str, config=None, cmd_set=False) -> dict:
    config = dict(config or {})
    for line in lines:
        config = instruction(line).apply(config, cmd_set=cmd_set)
    return config


@pytest.mark.parametrize("line, config, expected", [
    ('CMD ["sh", "-c", "cat /app/hello.txt"]', {}, 'CMD ["sh" "-c" "cat /app/hello.txt"]'),
    ("CMD echo hi", {}, 'CMD ["/bin/sh" "-c" "echo hi"]'),
    ("CMD", {}, 'CMD ["/bin/sh" "-c"]'),
    ("CMD []", {}, "CMD []"),
    ("ENTRYPOINT []", {}, "ENTRYPOINT []"),
    ('ENTRYPOINT ["echo"]', {}, 'ENTRYPOINT ["echo"]'),
    ("ENV GREETING=hi B=2", {}, "ENV GREETING=hi B=2"),
    ('LABEL a=b "c d"=e', {}, "LABEL a=b c d=e"),
    ("EXPOSE 80 53/udp", {}, "EXPOSE 53/udp 80"),
    ("VOLUME /data", {}, "VOLUME [/data]"),
    ('SHELL ["/bin/sh", "-xc"]', {}, "SHELL [/bin/sh -xc]"),
    ("USER nobody", {}, "USER nobody"),
    ("STOPSIGNAL SIGTERM", {}, "STOPSIGNAL SIGTERM"),
    ("MAINTAINER me", {}, "MAINTAINER me"),
    ("ONBUILD RUN echo trigger", {}, "ONBUILD RUN echo trigger"),
    ("ARG V=1 W", {}, "ARG V=1 W"),
    ("WORKDIR sub", {"WorkingDir": "/app"}, "WORKDIR /app/sub"),
    ("HEALTHCHECK --interval=5s CMD true", {}, """HEALTHCHECK &{["CMD-SHELL" "true"] "5s" "0s" "0s" '\\x00'}"""),
    ('HEALTHCHECK --retries=3 --timeout=1m30s CMD ["false"]', {},
     """HEALTHCHECK &{["CMD" "false"] "0s" "1m30s" "0s" '\\x03'}"""),
    ("HEALTHCHECK NONE", {}, """HEALTHCHECK &{["NONE"] "0s" "0s" "0s" '\\x00'}"""),
])
def test_history_text_is_dockers(line, config, expected):
    parsed = instruction(line)
    after = parsed.apply(config)
    assert parsed.history_text(after) == expected


def test_empty_commands_follow_docker():
    assert applied("CMD")["Cmd"] == ["/bin/sh", "-c"]  # the shell alone
    assert applied("CMD []")["Cmd"] == []
    assert applied('ENTRYPOINT ["a"]', "ENTRYPOINT []")["Entrypoint"] is None
    assert applied('ENTRYPOINT ["a"]', "ENTRYPOINT")["Entrypoint"] is None
    assert applied('ENTRYPOINT ""')["Entrypoint"] == ["/bin/sh", "-c", '""']  # quotes are kept in shell form


def test_entrypoint_clears_an_inherited_cmd_but_not_one_of_this_build():
    base = {"Cmd": ["sh"]}
    assert applied('ENTRYPOINT ["echo"]', config=base)["Cmd"] is None
    assert applied('ENTRYPOINT ["echo"]', config=base, cmd_set=True)["Cmd"] == ["sh"]


def test_env_replaces_a_variable_where_it_stands():
    config = applied("ENV PATH=/x A=1", "ENV A=2 B=3", config={"Env": ["PATH=/bin", "HOME=/root"]})
    assert config["Env"] == ["PATH=/x", "HOME=/root", "A=2", "B=3"]


def test_shell_changes_how_later_shell_forms_run():
    config = applied('SHELL ["/bin/bash", "-o", "pipefail", "-c"]', "CMD make")
    assert config["Cmd"] == ["/bin/bash", "-o", "pipefail", "-c", "make"]


@pytest.mark.parametrize("current, requested, expected", [
    ("", "/app", "/app"),
    ("/app", "sub/../x", "/app/x"),
    ("", "rel", "/rel"),
    ("/a", "/b/../c/", "/b/../c/"),  # an absolute WORKDIR is taken as written, as Docker does
])
def test_workdir(current, requested, expected):
    assert normalize_workdir(current, requested) == expected


@pytest.mark.parametrize("spec, ports", [
    ("80", ["80/tcp"]),
    ("80-82", ["80/tcp", "81/tcp", "82/tcp"]),
    ("90/UDP", ["90/udp"]),
    ("7/sctp", ["7/sctp"]),
    ("1.2.3.4:80:90", ["90/tcp"]),
])
def test_exposed_ports(spec, ports):
    assert exposed_ports(spec) == ports


@pytest.mark.parametrize("spec, message", [
    ("abc", "Invalid containerPort: abc"),
    ("99999", "Invalid containerPort: 99999"),
    ("80/foo", "Invalid proto: foo"),
    ("x.y:1:80", "Invalid ip address: x.y"),
])
def test_exposed_ports_errors(spec, message):
    with pytest.raises(InvalidArgument) as error:
        exposed_ports(spec)
    assert error.value.message == message


def test_stopsignal_is_checked():
    assert applied("STOPSIGNAL 9")["StopSignal"] == "9"
    assert applied("STOPSIGNAL kill")["StopSignal"] == "kill"
    with pytest.raises(InvalidArgument, match="Invalid signal: FOO"):
        applied("STOPSIGNAL FOO")


@pytest.mark.parametrize("nanoseconds, text", [
    (0, "0s"), (5_000_000_000, "5s"), (90_000_000_000, "1m30s"), (3_600_000_000_000, "1h0m0s"),
    (1_500_000_000, "1.5s"), (1_500_000, "1.5ms"), (2_000, "2\u00b5s"), (7, "7ns"), (-5_000_000_000, "-5s"),
])
def test_go_duration(nanoseconds, text):
    assert go_duration(nanoseconds) == text


@pytest.mark.parametrize("code, text", [(0, "'\\x00'"), (3, "'\\x03'"), (10, "'\\n'"), (65, "'A'"), (39, "'\\''")])
def test_go_quote_rune(code, text):
    assert go_quote_rune(code) == text


# -- the cache's comparison -------------------------------------------------------------------------------

STEP = {"Cmd": ["/bin/sh", "-c", "make"], "Env": ["A=1"], "Labels": {"a": "b"}, "User": "",
        "ExposedPorts": {"80/tcp": {}}, "WorkingDir": "/app", "Hostname": "1a2b3c4d5e6f"}


def test_the_same_step_matches_whatever_its_hostname_and_workdir():
    assert same_step(STEP, dict(STEP, Hostname="", WorkingDir="/elsewhere"))
    assert same_step(dict(STEP, Labels={}), dict(STEP, Labels=None))  # an empty map is no map


@pytest.mark.parametrize("change", [
    {"Cmd": ["/bin/sh", "-c", "make all"]}, {"Env": ["A=2"]}, {"Env": ["A=1", "B=1"]}, {"Labels": {"a": "c"}},
    {"User": "nobody"}, {"ExposedPorts": {"81/tcp": {}}}, {"Entrypoint": ["x"]}, {"Volumes": {"/v": {}}},
    {"OpenStdin": True},
])
def test_a_different_step_does_not_match(change):
    assert not same_step(STEP, dict(STEP, **change))
