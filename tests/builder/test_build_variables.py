"""Variable substitution (Docker's shell lexer) and build-arg bookkeeping."""

import pytest

from nbdock.builder.variables import BuildArgs, expand, expand_words, go_quote
from nbdock.errors import InvalidArgument

ENV = {"A": "a", "B": "b c", "EMPTY": "", "_x1": "under"}


@pytest.mark.parametrize(
    "word, expected",
    [
        ("$A", "a"),
        ("${A}", "a"),
        ("pre-${A}-post", "pre-a-post"),
        ("$A$A", "aa"),
        ("$_x1", "under"),
        ("$A.txt", "a.txt"),  # a name stops at the first character that cannot be in one
        ("$missing", ""),
        ("${missing}", ""),
        ("${A:-x}", "a"),
        ("${missing:-x}", "x"),
        ("${EMPTY:-x}", "x"),  # ':-' also replaces an empty value
        ("${A:+x}", "x"),
        ("${missing:+x}", ""),
        ("${EMPTY:+x}", ""),
        ("${missing:-$A}", "a"),  # the word after a modifier is expanded too
        ("${missing:-${A:+yes}}", "yes"),
        ("${missing:-'}'}", "}"),  # and may be quoted
        ("'$A'", "$A"),  # single quotes suppress substitution
        ('"$A"', "a"),  # double quotes do not
        ('"$B"', "b c"),
        ("\\$A", "$A"),  # escaped dollar
        ('"\\$A"', "$A"),
        ('"a\\"b"', 'a"b'),
        ('"a\\nb"', "a\\nb"),  # inside double quotes only " $ and the escape itself are escapable
        ("a\\ b", "a b"),
        ("a\\\\b", "a\\b"),
        ("trailing\\", "trailing"),  # an escape at the very end is dropped
        ("$", "$"),
        ("a$", "a$"),
        ("$ b", "$ b"),
        ("$1", ""),  # positional parameters are names like others, never set
        ("${A?}", "a"),
        ("${A:?}", "a"),
        ("'it'\"'\"'s'", "it's"),  # quotes of both kinds side by side make one word
    ],
)
def test_expand(word, expected):
    assert expand(word, ENV) == expected


def test_expand_with_backtick_escape():
    assert expand("`$A", ENV, escape="`") == "$A"
    assert expand("a\\b", ENV, escape="`") == "a\\b"  # a backslash is an ordinary character then
    assert expand('"`"x"', ENV, escape="`") == '"x'


@pytest.mark.parametrize(
    "word, message",
    [
        ("${}", 'failed to process "${}": syntax error: bad substitution'),
        ("${:x}", 'failed to process "${:x}": syntax error: bad substitution'),
        ("${A", 'failed to process "${A": missing \':\' in substitution'),
        ("${", "failed to process \"${\": syntax error: missing '}'"),
        ("${A:-x", "failed to process \"${A:-x\": syntax error: missing '}'"),
        ("${A:=x}", 'failed to process "${A:=x}": unsupported modifier (=) in substitution'),
        ("${A-x}", 'failed to process "${A-x}": missing \':\' in substitution'),
        ("'abc", 'failed to process "\'abc": unexpected end of statement while looking for matching single-quote'),
        ('"abc', 'failed to process "\\"abc": unexpected end of statement while looking for matching double-quote'),
        ("${missing?}", 'failed to process "${missing?}": missing: is not allowed to be unset'),
        ("${missing?must be set}", 'failed to process "${missing?must be set}": missing: must be set'),
        ("${EMPTY:?}", 'failed to process "${EMPTY:?}": EMPTY: is not allowed to be empty'),
        ("${missing:?}", 'failed to process "${missing:?}": missing: is not allowed to be unset'),
    ],
)
def test_expand_errors_use_dockers_messages(word, message):
    with pytest.raises(InvalidArgument) as caught:
        expand(word, ENV)
    assert caught.value.message == message


@pytest.mark.parametrize(
    "text, words",
    [
        ("80 443", ["80", "443"]),
        ("$P", ["80", "443/udp"]),  # a value splits into words...
        ('"$P"', ["80 443/udp"]),  # ...unless quoted
        ("  $P  8080 ", ["80", "443/udp", "8080"]),
        ("a\\ b c", ["a b", "c"]),
        ("${missing}", []),
        ("x${missing}y", ["xy"]),
    ],
)
def test_expand_words(text, words):
    assert expand_words(text, {"P": "80 443/udp"}) == words


def test_go_quote():
    assert go_quote('a"b\\c') == '"a\\"b\\\\c"'
    assert go_quote("tab\there\n") == '"tab\\there\\n"'
    assert go_quote("\x01é") == '"\\x01é"'
    assert go_quote(b"\xff".decode("utf-8", "surrogateescape")) == '"\\xff"'


# -- build args ------------------------------------------------------------------


def test_build_arg_overrides_default_only_when_declared():
    args = BuildArgs({"VERSION": "2.0", "UNDECLARED": "x"}).for_new_stage()
    args.add_arg("VERSION", "1.0")
    args.add_arg("DEBUG", "0")
    assert args.allowed_values() == {"VERSION": "2.0", "DEBUG": "0"}


def test_arg_without_default_and_without_value_is_not_set():
    args = BuildArgs({}).for_new_stage()
    args.add_arg("NAME", None)
    assert args.allowed_values() == {}
    assert args.environment([]) == {}


def test_meta_args_are_for_from_lines_until_redeclared():
    build = BuildArgs({"BASE_TAG": "1.36"})
    build.add_meta_arg("BASE", "busybox")
    build.add_meta_arg("BASE_TAG", "latest")
    assert build.meta_values() == {"BASE": "busybox", "BASE_TAG": "1.36"}

    stage = build.for_new_stage()
    assert stage.allowed_values() == {}  # not visible in the stage...
    stage.add_arg("BASE", None)  # ...until declared again, without a value
    assert stage.allowed_values() == {"BASE": "busybox"}


def test_env_wins_over_arg():
    stage = BuildArgs({"MODE": "from-cli"}).for_new_stage()
    stage.add_arg("MODE", None)
    stage.add_arg("OTHER", "o")
    image_env = ["PATH=/bin", "MODE=from-env"]
    assert stage.environment(image_env) == {"PATH": "/bin", "MODE": "from-env", "OTHER": "o"}
    assert stage.run_environment(image_env) == ["OTHER=o"]


def test_proxy_build_args_need_no_arg_and_stay_out_of_history():
    stage = BuildArgs({"HTTP_PROXY": "http://proxy:3128"}).for_new_stage()
    assert stage.allowed_values() == {"HTTP_PROXY": "http://proxy:3128"}
    assert not stage.is_referenced_or_not_builtin("HTTP_PROXY")
    stage.add_arg("HTTP_PROXY", None)
    assert stage.is_referenced_or_not_builtin("HTTP_PROXY")
    assert stage.unused_warning() is None


def test_unused_build_args_warning_counts_every_stage():
    build = BuildArgs({"USED_IN_FIRST": "1", "NEVER": "2", "ALSO_NEVER": "3", "META": "4"})
    build.add_meta_arg("META", None)
    first = build.for_new_stage()
    first.add_arg("USED_IN_FIRST", None)
    build.merge_referenced(first)
    second = build.for_new_stage()
    build.merge_referenced(second)
    assert build.unused_warning() == "[Warning] One or more build-args [ALSO_NEVER NEVER] were not consumed\n"


def test_build_arg_given_without_value_leaves_the_default():
    stage = BuildArgs({"NAME": None}).for_new_stage()
    stage.add_arg("NAME", "default")
    assert stage.allowed_values() == {"NAME": "default"}
    assert stage.unused_warning() is None
