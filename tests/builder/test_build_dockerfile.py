"""The Dockerfile parser: lines, instructions, stages, and Docker's error messages."""

import textwrap

import pytest

from nbdock.goformat import parse_go_duration
from nbdock.builder.instructions import (
    Add,
    Arg,
    Cmd,
    Copy,
    Entrypoint,
    Env,
    Expose,
    From,
    Healthcheck,
    Label,
    Maintainer,
    Onbuild,
    Run,
    Shell,
    StopSignal,
    User,
    Volume,
    Workdir,
)
from nbdock.builder.lexer import DockerfileParseError
from nbdock.builder.parser import parse_change_lines, parse_dockerfile, parse_onbuild_trigger
from nbdock.errors import InvalidArgument


def parse(text):
    return parse_dockerfile(textwrap.dedent(text).lstrip("\n"))


def commands(text):
    return parse(text).stages[0].commands


def only(text):
    (instruction,) = commands("FROM busybox\n" + textwrap.dedent(text).lstrip("\n"))
    return instruction


def parse_error(text, name="Dockerfile"):
    with pytest.raises(DockerfileParseError) as caught:
        parse_dockerfile(textwrap.dedent(text).lstrip("\n"), name)
    return caught.value


# -- lines ------------------------------------------------------------------------------


def test_stages_meta_args_and_line_numbers():
    dockerfile = parse(
        """
        ARG BASE=busybox
        # a comment

        FROM $BASE AS Builder
        RUN make
        FROM busybox
        COPY --from=builder /out /out
        """
    )
    assert [arg.args for arg in dockerfile.meta_args] == [[("BASE", "busybox")]]
    builder, final = dockerfile.stages
    assert builder.name == "builder"  # stage names are lower-cased
    assert builder.from_instruction == From("FROM", "FROM $BASE AS Builder", 4, 4, base_name="$BASE", stage_name="builder")
    assert [(c.keyword, c.line) for c in builder.commands] == [("RUN", 5)]
    assert final.name == "" and final.commands[0].from_stage == "builder"
    assert dockerfile.step_count == 5


def test_keywords_are_case_insensitive_and_original_text_is_kept():
    run = only("run   echo  hi   ")
    assert isinstance(run, Run)
    assert run.keyword == "RUN"
    assert run.original == "run   echo  hi"
    assert str(run) == "run   echo  hi"
    assert run.command == ["echo  hi"]


def test_continuation_lines_with_comments_and_indentation():
    run = only(
        """
        RUN apt-get update \\
            # install the tools
          && apt-get install -y \\
        # another comment
               make
        """
    )
    # Continuation lines keep their leading blanks (Docker only strips the first line's).
    assert run.command == ["apt-get update   && apt-get install -y        make"]
    assert (run.line, run.end_line) == (2, 6)


def test_empty_continuation_line_gives_dockers_warning():
    dockerfile = parse("FROM busybox\nRUN echo a \\\n\n   echo b\n")
    assert dockerfile.stages[0].commands[0].command == ["echo a    echo b"]
    assert dockerfile.warnings == [
        "[WARNING]: Empty continuation line found in:\n    RUN echo a    echo b",
        "[WARNING]: Empty continuation lines will become errors in a future release.",
    ]


def test_continuation_at_end_of_file_and_escaped_escape():
    assert only("RUN echo a \\").command == ["echo a"]
    # A doubled escape character at the end is a literal backslash, not a continuation.
    dockerfile = parse("FROM busybox\nRUN echo a\\\\\nRUN echo b\n")
    assert [c.command for c in dockerfile.stages[0].commands] == [["echo a\\\\"], ["echo b"]]


def test_crlf_line_endings_and_byte_order_mark():
    dockerfile = parse_dockerfile("\ufeffFROM busybox\r\nRUN echo a \\\r\n  b\r\n")
    assert dockerfile.stages[0].commands[0].command == ["echo a   b"]


def test_bytes_are_decoded_without_losing_invalid_utf8():
    dockerfile = parse_dockerfile(b"FROM busybox\nRUN echo \xff\n")
    assert dockerfile.stages[0].commands[0].command[0].encode("utf-8", "surrogateescape") == b"echo \xff"


def test_escape_directive_backtick():
    dockerfile = parse(
        """
        # escape=`
        FROM busybox
        RUN dir c:\\ `
            && echo done
        COPY a `$b /x
        """
    )
    run, copy = dockerfile.stages[0].commands
    assert dockerfile.escape == "`"
    assert run.command == ["dir c:\\     && echo done"]
    assert copy.expanded({"b": "B"}, dockerfile.escape).sources == ["a", "$b"]


def test_directives_only_count_at_the_top():
    assert parse("# syntax=docker/dockerfile:1\n# escape=`\nFROM busybox\n").escape == "`"
    assert parse("# Escape = ` \nFROM busybox\n").escape == "`"  # case and blanks do not matter
    # After an empty line, an ordinary comment or an unknown directive, it is a comment.
    for text in ("\n# escape=`\nFROM busybox\n", "# hello\n# escape=`\nFROM busybox\n", "# unknown=x\n# escape=`\nFROM busybox\n", "FROM busybox\n# escape=`\n"):
        assert parse_dockerfile(text).escape == "\\"


def test_flags_are_parsed_generically_quotes_and_all():
    copy = only('COPY --chown="app user":staff --from=build a b /dst/')
    assert (copy.chown, copy.from_stage, copy.sources, copy.dest) == ("app user:staff", "build", ["a", "b"], "/dst/")
    add = only("ADD --chown=1:2 --chmod=644 http://example.com/x /x")
    assert (add.chown, add.chmod, add.sources) == ("1:2", "644", ["http://example.com/x"])
    platform = parse("FROM --platform=linux/amd64 busybox AS x\n").stages[0].from_instruction
    assert (platform.platform, platform.base_name, platform.stage_name) == ("linux/amd64", "busybox", "x")
    run = only("RUN --mount=type=cache,target=/root/.cache --mount=type=tmpfs,target=/tmp make")
    assert (run.mounts, run.command) == (["type=cache,target=/root/.cache", "type=tmpfs,target=/tmp"], ["make"])
    # "--" ends the flags
    assert only("COPY -- --weird-name /dst").sources == ["--weird-name"]


# -- each instruction -------------------------------------------------------------------


@pytest.mark.parametrize(
    "line, command, shell_form",
    [
        ('RUN ["echo", "hi there"]', ["echo", "hi there"], False),
        ("RUN echo hi", ["echo hi"], True),
        ('RUN ["echo", "unterminated"', ['["echo", "unterminated"'], True),  # invalid JSON: shell form
        ("RUN [echo]", ["[echo]"], True),
        ('RUN ["a"] trailing text', ["a"], False),  # like Go's decoder, only the first value counts
        ("RUN [NaN]", ["[NaN]"], True),
        ("RUN []", [], False),
        ('CMD ["sh"]', ["sh"], False),
        ("CMD", [], True),
        ("ENTRYPOINT []", [], False),
        ("ENTRYPOINT top -b", ["top -b"], True),
    ],
)
def test_exec_form_and_shell_form(line, command, shell_form):
    instruction = only(line)
    assert (instruction.command, instruction.shell_form) == (command, shell_form)
    assert type(instruction) is {"RUN": Run, "CMD": Cmd, "ENTRYPOINT": Entrypoint}[line.split()[0]]


def test_env_both_forms():
    assert only("ENV PATH /usr/local/bin:$PATH").pairs == [("PATH", "/usr/local/bin:$PATH")]
    assert only("ENV   GREETING   hello   world  ").pairs == [("GREETING", "hello   world")]
    env = only('ENV A=1 B="two words" C=a\\ b D= E=""')
    assert env.pairs == [("A", "1"), ("B", '"two words"'), ("C", "a\\ b"), ("D", ""), ("E", '""')]
    assert env.expanded({}).pairs == [("A", "1"), ("B", "two words"), ("C", "a b"), ("D", ""), ("E", "")]


def test_env_values_see_the_environment_before_the_instruction():
    env = only("ENV A=new B=$A C=${A:-unset}")
    assert env.expanded({"A": "old"}).pairs == [("A", "new"), ("B", "old"), ("C", "old")]
    assert env.expanded({}).pairs == [("A", "new"), ("B", ""), ("C", "unset")]


def test_label_arg_and_copy_with_json_paths():
    label = only('LABEL "com.example.vendor"="ACME Inc" version=1.0')
    assert label.expanded({}).pairs == [("com.example.vendor", "ACME Inc"), ("version", "1.0")]
    arg = only('ARG name other=default empty= quoted="a b"')
    assert arg.args == [("name", None), ("other", "default"), ("empty", ""), ("quoted", '"a b"')]
    assert arg.expanded({}).args[3] == ("quoted", "a b")
    copy = only('COPY ["file with spaces.txt", "dir/"]')
    assert (copy.sources, copy.dest) == (["file with spaces.txt"], "dir/")


def test_single_argument_instructions_keep_spaces():
    assert only("USER app:staff").user == "app:staff"
    assert only("WORKDIR /path with spaces").path == "/path with spaces"
    assert only("MAINTAINER Jane Doe <jane@example.com>").maintainer == "Jane Doe <jane@example.com>"
    assert only("STOPSIGNAL SIGKILL").signal == "SIGKILL"


def test_volume_expose_shell():
    assert only('VOLUME ["/data", "/logs"]').paths == ["/data", "/logs"]
    assert only("VOLUME /data /logs").paths == ["/data", "/logs"]
    assert only("EXPOSE 8080 443/udp 80").ports == ["443/udp", "80", "8080"]  # Docker sorts them
    assert only('SHELL ["/bin/bash", "-c"]').shell == ["/bin/bash", "-c"]


def test_onbuild():
    onbuild = only("ONBUILD   RUN make install")
    assert isinstance(onbuild, Onbuild)
    assert onbuild.expression == "RUN make install"
    trigger = parse_onbuild_trigger(onbuild.expression)
    assert isinstance(trigger, Run) and trigger.command == ["make install"]


def test_healthcheck():
    check = only("HEALTHCHECK --interval=1m30s --timeout=500ms --start-period=2s --retries=3 CMD curl -f localhost || exit 1")
    assert check.test == ["CMD-SHELL", "curl -f localhost || exit 1"]
    assert (check.interval, check.timeout, check.start_period, check.retries) == (90 * 10**9, 500 * 10**6, 2 * 10**9, 3)
    assert only('HEALTHCHECK CMD ["/bin/check", "-q"]').test == ["CMD", "/bin/check", "-q"]
    assert only("healthcheck none").test == ["NONE"]


@pytest.mark.parametrize(
    "text, nanoseconds",
    [("0", 0), ("1s", 10**9), ("1.5h", 5400 * 10**9), ("2m3s", 123 * 10**9), ("100us", 100_000), ("1µs", 1000), ("-1ms", -(10**6)), (".5s", 5 * 10**8)],
)
def test_go_durations(text, nanoseconds):
    assert parse_go_duration(text) == nanoseconds


def test_variables_are_substituted_only_where_docker_does():
    env = {"V": "value", "P": "80 443"}
    instructions = commands(
        """
        FROM busybox
        RUN echo $V
        CMD echo $V
        ENTRYPOINT ["echo", "$V"]
        SHELL ["$V"]
        MAINTAINER $V
        ONBUILD RUN echo $V
        HEALTHCHECK CMD echo $V
        WORKDIR /$V
        USER $V
        VOLUME /$V
        STOPSIGNAL $V
        COPY --from=$V --chown=$V $V /$V
        ADD --chown=$V $V /$V
        EXPOSE $P
        """
    )
    expanded = [instruction.expanded(env) for instruction in instructions]
    assert expanded[:7] == instructions[:7]  # untouched: the shell (or nothing) expands those
    workdir, user, volume, stopsignal, copy, add, expose = expanded[7:]
    assert (workdir.path, user.user, volume.paths, stopsignal.signal) == ("/value", "value", ["/value"], "value")
    assert (copy.from_stage, copy.chown, copy.sources, copy.dest) == ("$V", "value", ["value"], "/value")
    assert (add.chown, add.sources, add.dest) == ("value", ["value"], "/value")
    assert expose.ports == ["80", "443"]


def test_from_is_expanded_with_meta_args():
    dockerfile = parse('ARG TAG=1.36\nFROM --platform=$OS/amd64 busybox:${TAG}\n')
    stage = dockerfile.stages[0].from_instruction.expanded({"TAG": "1.36", "OS": "linux"})
    assert (stage.base_name, stage.platform) == ("busybox:1.36", "linux/amd64")
    with pytest.raises(InvalidArgument, match=r"base name \(\$\{NOTHING\}\) should not be blank"):
        parse("FROM ${NOTHING}\n").stages[0].from_instruction.expanded({})


def test_volume_expanding_to_nothing_is_refused():
    with pytest.raises(InvalidArgument, match="VOLUME specified can not be an empty string"):
        only("VOLUME $NOTHING").expanded({})


def test_target_stage():
    dockerfile = parse("FROM busybox AS base\nFROM base AS Test\nFROM base\n")
    assert [stage.name for stage in dockerfile.stages_up_to("TEST")] == ["base", "test"]
    with pytest.raises(InvalidArgument, match="failed to reach build target nope in Dockerfile"):
        dockerfile.stages_up_to("nope")


def test_change_lines_for_commit_and_import():
    cmd, env = parse_change_lines(['CMD ["/bin/sh"]', "ENV A=1"])
    assert isinstance(cmd, Cmd) and cmd.command == ["/bin/sh"]
    assert isinstance(env, Env)
    with pytest.raises(InvalidArgument, match="^run is not a valid change command$"):
        parse_change_lines(["RUN true"])
    assert parse_change_lines([]) == []


# -- errors, with Docker 20.10's wording ------------------------------------------------


@pytest.mark.parametrize(
    "text, message, line",
    [
        ("FROM busybox\nRUN true\nFOOBAR x\n", "dockerfile parse error line 3: unknown instruction: FOOBAR", 3),
        ("FROM busybox\nENV =x\n", "dockerfile parse error line 2: ENV names can not be blank", 2),
        ("FROM busybox\nENV\n", "dockerfile parse error line 2: ENV requires at least one argument", 2),
        ("FROM busybox\nENV x\n", "failed to parse Dockerfile: ENV must have two arguments", 2),
        ("FROM busybox\nLABEL a=b c\n", "failed to parse Dockerfile: Syntax error - can't find = in \"c\". Must be of the form: name=value", 2),
        ("FROM busybox\nRUN [\"a\", 1]\n", "failed to parse Dockerfile: when using JSON array syntax, arrays must be comprised of strings only", 2),
        ("# escape=x\nFROM busybox\n", "failed to parse Dockerfile: invalid escape token 'x' does not match ` or \\", 1),
        ("# escape=`\n# escape=`\nFROM busybox\n", "failed to parse Dockerfile: only one escape parser directive can be used", 2),
        ("# only a comment\n\n", "failed to parse Dockerfile: file with no instructions", 2),
        ("RUN true\n", "no build stage in current context", 1),
        ("FROM busybox\nONBUILD ONBUILD RUN x\n", "dockerfile parse error line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed", 2),
        ("FROM busybox\nONBUILD from x\n", "dockerfile parse error line 2: FROM isn't allowed as an ONBUILD trigger", 2),
        ("FROM busybox\nONBUILD ENV x\n", "failed to parse Dockerfile: ENV must have two arguments", 2),
        ("FROM busybox\nSHELL sh -c\n", "dockerfile parse error line 2: SHELL requires the arguments to be in JSON form", 2),
        ("FROM busybox\nSHELL []\n", "dockerfile parse error line 2: SHELL requires at least one argument", 2),
        ("FROM busybox\nCOPY x\n", "dockerfile parse error line 2: COPY requires at least two arguments, but only one was provided. Destination could not be determined", 2),
        ("FROM busybox\nHEALTHCHECK --retries=0 CMD x\n", "dockerfile parse error line 2: --retries must be at least 1 (not 0)", 2),
        ("FROM busybox\nHEALTHCHECK FOO x\n", "dockerfile parse error line 2: Unknown type \"FOO\" in HEALTHCHECK (try CMD)", 2),
        ("FROM busybox\nHEALTHCHECK NONE x\n", "dockerfile parse error line 2: HEALTHCHECK NONE takes no arguments", 2),
        ("FROM busybox\nHEALTHCHECK CMD\n", "dockerfile parse error line 2: Missing command after HEALTHCHECK CMD", 2),
        ("FROM busybox\nHEALTHCHECK --interval=abc CMD x\n", "dockerfile parse error line 2: time: invalid duration \"abc\"", 2),
        ("FROM busybox\nHEALTHCHECK --interval=10 CMD x\n", "dockerfile parse error line 2: time: missing unit in duration \"10\"", 2),
        ("FROM busybox\nHEALTHCHECK --timeout=3x CMD x\n", "dockerfile parse error line 2: time: unknown unit \"x\" in duration \"3x\"", 2),
        ("FROM busybox\nHEALTHCHECK --interval=0s CMD x\n", "dockerfile parse error line 2: Interval \"interval\" cannot be less than 1ms", 2),
        ("FROM busybox\nHEALTHCHECK --retries=abc CMD x\n", "dockerfile parse error line 2: strconv.ParseInt: parsing \"abc\": invalid syntax", 2),
        ("FROM busybox\nCOPY --foo=1 a b\n", "dockerfile parse error line 2: Unknown flag: foo", 2),
        ("FROM busybox\nRUN --network=host true\n", "dockerfile parse error line 2: Unknown flag: network", 2),
        ("FROM busybox\nCOPY --chown a b\n", "dockerfile parse error line 2: Missing a value on flag: chown", 2),
        ("FROM busybox\nCOPY --from=a --from=b a b\n", "dockerfile parse error line 2: Duplicate flag specified: from", 2),
        ("FROM busybox AS 1x\n", "dockerfile parse error line 1: invalid name for build stage: \"1x\", name can't start with a number or contain symbols", 1),
        ("FROM a b\n", "dockerfile parse error line 1: FROM requires either one or three arguments", 1),
        ("FROM busybox\nWORKDIR\n", "dockerfile parse error line 2: WORKDIR requires exactly one argument", 2),
        ("FROM busybox\nEXPOSE\n", "dockerfile parse error line 2: EXPOSE requires at least one argument", 2),
        ("FROM busybox\nVOLUME [\"\"]\n", "dockerfile parse error line 2: VOLUME specified can not be an empty string", 2),
        ("FROM busybox\nARG =x\n", "dockerfile parse error line 2: ARG names can not be blank", 2),
        ("FROM busybox\nMAINTAINER\n", "dockerfile parse error line 2: MAINTAINER requires exactly one argument", 2),
        ("FROM busybox\nRUN a \\\n  b\nBAD\n", "dockerfile parse error line 4: unknown instruction: BAD", 4),
    ],
)
def test_errors(text, message, line):
    error = parse_error(text)
    assert error.message == message
    assert error.line == line
    assert error.status == 400


def test_empty_dockerfile_and_custom_name_in_messages():
    assert parse_error("", "Dockerfile.dev").message == "the Dockerfile (Dockerfile.dev) cannot be empty"
    assert parse_error("FROM x\nENV y\n", "Dockerfile.dev").message == "failed to parse Dockerfile.dev: ENV must have two arguments"


def test_parse_errors_come_before_instruction_errors():
    # Docker splits every line before it checks any instruction.
    assert parse_error("FROM busybox\nFOOBAR\nENV x\n").message == "failed to parse Dockerfile: ENV must have two arguments"


def test_accepted_oddities_that_docker_accepts_too():
    # Unknown ONBUILD triggers wait until they run; ARG and STOPSIGNAL ignore flags;
    # HEALTHCHECK NONE ignores them too.
    assert only("ONBUILD FOOBAR x").expression == "FOOBAR x"
    assert only("ARG --weird=1 A=1").args == [("A", "1")]
    assert only("STOPSIGNAL --weird SIGTERM").signal == "SIGTERM"
    assert only("HEALTHCHECK --interval=1s NONE").test == ["NONE"]
    with pytest.raises(InvalidArgument, match="unknown instruction: FOOBAR"):
        parse_onbuild_trigger("FOOBAR x")


def test_all_instruction_types_are_produced():
    kinds = [type(c) for c in commands(
        """
        FROM busybox
        ADD a /a
        ARG a
        CMD x
        COPY a /a
        ENTRYPOINT x
        ENV a b
        EXPOSE 1
        HEALTHCHECK NONE
        LABEL a=b
        MAINTAINER m
        ONBUILD RUN x
        RUN x
        SHELL ["x"]
        STOPSIGNAL 9
        USER u
        VOLUME /v
        WORKDIR /w
        """
    )]
    assert kinds == [Add, Arg, Cmd, Copy, Entrypoint, Env, Expose, Healthcheck, Label, Maintainer, Onbuild, Run, Shell, StopSignal, User, Volume, Workdir]


def test_a_new_keyword_is_one_class():
    """ARCHITECTURE.md's worked example: defining the class is all it takes to parse and apply it."""
    import dataclasses
    from dataclasses import dataclass

    from nbdock.builder import lexer
    from nbdock.builder.instructions import DEFAULT_ESCAPE, INSTRUCTIONS, Instruction, _exactly_one, parse_flags
    from nbdock.builder.variables import expand

    @dataclass
    class Timezone(Instruction):
        zone: str

        KEYWORD = "TIMEZONE"
        arguments = staticmethod(lexer.whole_string)

        @classmethod
        def from_line(cls, line, common):
            zone = _exactly_one(line)
            parse_flags(line, ())
            return cls(**common, zone=zone)

        def expanded(self, env, escape=DEFAULT_ESCAPE):
            return dataclasses.replace(self, zone=expand(self.zone, env, escape))

        def apply(self, config, *, cmd_set=False):
            return Env(self.keyword, self.original, self.line, self.end_line, [("TZ", self.zone)]).apply(config)

        def history_text(self, config):
            return "TIMEZONE " + self.zone

    try:
        (step,) = commands("FROM busybox\nARG PLACE=Paris\nTIMEZONE Europe/$PLACE\n")[1:]
        step = step.expanded({"PLACE": "Paris"})
        assert step.zone == "Europe/Paris" and step.STEP == "config"
        assert step.apply({"Env": ["PATH=/bin"]}) == {"Env": ["PATH=/bin", "TZ=Europe/Paris"]}
        assert step.history_text({}) == "TIMEZONE Europe/Paris"
        with pytest.raises(DockerfileParseError, match="TIMEZONE requires exactly one argument"):
            parse("FROM busybox\nTIMEZONE\n")
    finally:
        INSTRUCTIONS.pop("TIMEZONE")
    with pytest.raises(DockerfileParseError, match="unknown instruction: TIMEZONE"):
        parse("FROM busybox\nTIMEZONE Europe/Paris\n")
