""".dockerignore parsing, matching, and the context walk."""

import os

import pytest

from nbdock.builder.dockerignore import DockerIgnore, iter_context_files, parse_dockerignore
from nbdock.errors import InvalidArgument


def test_parse_comments_blanks_cleaning_and_leading_slash():
    text = "\ufeff# comment\n\n  *.log  \n/build/\n./a//b/../c\n! /keep.log\n#!not-an-exception\n  # indented comment is a pattern\n"
    assert parse_dockerignore(text) == ["*.log", "build", "a/c", "!keep.log", "# indented comment is a pattern"]


@pytest.mark.parametrize(
    "patterns, path, excluded",
    [
        (["*.log"], "app.log", True),
        (["*.log"], "logs/app.log", False),  # * does not cross /
        (["*/*.log"], "logs/app.log", True),
        (["**/*.log"], "app.log", True),  # ** matches zero directories too
        (["**/*.log"], "a/b/c/app.log", True),
        (["a/**/z"], "a/z", True),
        (["a/**/z"], "a/b/c/z", True),
        (["a/**"], "a/b/c", True),
        (["a/**"], "a", False),
        (["build"], "build/obj/x.o", True),  # a directory excludes what it holds
        (["build"], "builder", False),
        (["?.txt"], "a.txt", True),
        (["?.txt"], "ab.txt", False),
        (["[a-c].txt"], "b.txt", True),
        (["[a-c].txt"], "d.txt", False),
        (["[^a-c].txt"], "d.txt", True),
        (["[!a].txt"], "!.txt", True),  # Go negates with ^ only
        (["\\*.txt"], "*.txt", True),
        (["\\*.txt"], "a.txt", False),
        (["a+b(c)|d{e}$.txt"], "a+b(c)|d{e}$.txt", True),  # regex characters are literal
        (["*", "!keep"], "keep", False),
        (["*", "!keep"], "other", True),
        (["*", "!keep", "keep"], "keep", True),  # the last match wins
        (["docs", "!docs/README.md"], "docs/README.md", False),
        (["docs", "!docs/README.md"], "docs/other.md", True),
        (["a/b", "!a"], "a/b", False),  # an exception matching a parent directory re-includes
        (["*"], ".", False),  # the context root itself is never excluded
    ],
)
def test_matching(patterns, path, excluded):
    assert DockerIgnore(patterns).matches(path) is excluded


@pytest.mark.parametrize("pattern", ["[", "a[b", "[]", "[a-]", "[-a]", "a\\", "[a\\"])
def test_go_syntax_errors_are_refused(pattern):
    with pytest.raises(InvalidArgument, match="syntax error in pattern"):
        DockerIgnore([pattern])


def test_lone_exclamation_mark_is_refused():
    with pytest.raises(InvalidArgument, match='illegal exclusion pattern: "!"'):
        DockerIgnore(parse_dockerignore("!\n"))


def test_reversed_class_range_matches_nothing():
    assert not DockerIgnore(["[z-a]"]).matches("m")
    assert DockerIgnore(["[^z-a]"]).matches("m")


def test_keeping_the_build_files():
    ignore = DockerIgnore(["*", "!src"]).keeping(".dockerignore", "docker/Dockerfile")
    assert not ignore.matches(".dockerignore")
    assert not ignore.matches("docker/Dockerfile")
    assert ignore.matches("docker/other")
    assert not ignore.matches("src/main.c")
    # nothing is added when nothing needs keeping
    assert len(DockerIgnore(["*.log"]).keeping(".dockerignore", "Dockerfile").patterns) == 1


@pytest.mark.parametrize(
    "exception, directory, could",
    [
        ("!build/keep", "build", True),
        ("!build/keep", "other", False),
        ("!build", "build", False),  # it would have matched build itself
        ("!**/keep", "anything/deep", True),
        ("!*/keep", "x", True),
        ("!*/keep", "x/y", False),
        ("!a/*/c/d", "a/b", True),
        ("!a/*/c/d", "a/b/x", False),
    ],
)
def test_could_reinclude_under(exception, directory, could):
    assert DockerIgnore(["*", exception]).could_reinclude_under(directory) is could


@pytest.fixture
def tree(tmp_path):
    for path in ["b.txt", "a.txt", "app.log", "src/main.c", "src/lib/util.c", "build/x.o", "build/keep/me", "Z/upper"]:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(path)
    os.symlink("/etc", tmp_path / "link-to-etc")  # must be listed, never followed
    os.symlink("src", tmp_path / "link-to-src")
    return tmp_path


def test_walk_order_is_go_filepath_walk(tree):
    assert list(iter_context_files(str(tree), DockerIgnore())) == [
        "Z",
        "Z/upper",
        "a.txt",
        "app.log",
        "b.txt",
        "build",
        "build/keep",
        "build/keep/me",
        "build/x.o",
        "link-to-etc",
        "link-to-src",
        "src",
        "src/lib",
        "src/lib/util.c",
        "src/main.c",
    ]


def test_walk_prunes_excluded_directories(tree, monkeypatch):
    ignore = DockerIgnore(["*.log", "build", "src/lib", "link-to-*"])
    listed = []
    real_scandir = os.scandir
    monkeypatch.setattr(os, "scandir", lambda path: listed.append(os.path.relpath(path, tree)) or real_scandir(path))
    assert list(iter_context_files(str(tree), ignore)) == ["Z", "Z/upper", "a.txt", "b.txt", "src", "src/main.c"]
    assert sorted(listed) == [".", "Z", "src"]  # build/ and src/lib/ were never read


def test_walk_enters_excluded_directory_for_an_exception(tree):
    ignore = DockerIgnore(["build", "!build/keep/me", "**/*.c", "!**/util.c"])
    assert list(iter_context_files(str(tree), ignore)) == [
        "Z",
        "Z/upper",
        "a.txt",
        "app.log",
        "b.txt",
        # build/ and build/keep/ themselves stay out, as with Docker
        "build/keep/me",
        "link-to-etc",
        "link-to-src",
        "src",
        "src/lib",
        "src/lib/util.c",
    ]
