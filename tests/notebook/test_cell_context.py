"""A %%dockerfile cell's default build context: only what its COPY/ADD name, from the notebook's folder."""

import os

import pytest
from IPython.core.error import UsageError

from nbdock.client.cell_context import cell_context, context_sources
from nbdock.client.errors import CommandError


def _folder(tmp_path):
    """A notebook's folder: the lesson, a big unrelated file, the file and directory a cell copies."""
    folder = tmp_path / "notebooks"
    (folder / "site").mkdir(parents=True)
    (folder / "site" / "index.html").write_text("hello\n")
    (folder / "app").write_text("#!/bin/sh\necho app\n")
    (folder / "notes.txt").write_text("a note\n")
    (folder / "02-lesson.ipynb").write_text("{}")
    (folder / "big.bin").write_bytes(b"\0" * 1_000_000)
    return folder


def test_only_the_sources_the_cell_names_are_in_its_context(tmp_path):
    folder, context = _folder(tmp_path), tmp_path / "context"
    context.mkdir()
    cell = ("FROM busybox AS base\nCOPY app /usr/local/bin/app\nADD site /www\n"
            "ADD https://example.invalid/x.tar /x\nFROM busybox\nCOPY --from=base /www /www\nCOPY /*.txt /\n")
    assert context_sources(cell) == ["app", "site", "/*.txt"]
    assert cell_context(cell, str(folder), str(context)) == ["app", "site", "notes.txt"]
    sent = sorted(os.path.relpath(os.path.join(d, f), context) for d, _, files in os.walk(context) for f in files)
    assert sent == ["app", "notes.txt", "site/index.html"]  # no notebook, no big.bin


def test_copy_dot_sends_the_folder_with_its_dockerignore_applied_later(tmp_path):
    folder, context = _folder(tmp_path), tmp_path / "context"
    (folder / ".dockerignore").write_text("*.ipynb\nbig.bin\n")
    context.mkdir()
    assert cell_context("FROM busybox\nCOPY . /app\n", str(folder), str(context)) == ["."]
    assert (context / ".dockerignore").read_text() == "*.ipynb\nbig.bin\n"  # tar_context applies it when packing
    context2 = tmp_path / "context2"
    context2.mkdir()
    cell_context("FROM busybox\nCOPY app /app\n", str(folder), str(context2))
    assert sorted(os.listdir(context2)) == [".dockerignore", "app"]


def test_a_source_outside_the_folder_is_refused_with_its_path(tmp_path):
    folder = _folder(tmp_path)
    (tmp_path / "secret").write_text("no\n")
    (folder / "link").symlink_to(tmp_path / "secret")
    for source in ("../secret", "link"):
        with pytest.raises(CommandError, match=f"{tmp_path / 'secret'} is outside the notebook's folder"):
            cell_context(f"FROM busybox\nCOPY {source} /s\n", str(folder), str(tmp_path))


def test_a_variable_in_a_source_asks_for_a_context(tmp_path):
    with pytest.raises(CommandError, match=r"COPY \$APP: a variable .* --context DIR"):
        context_sources("FROM busybox\nARG APP=app\nCOPY $APP /app\n")


@pytest.mark.root
def test_a_cell_sends_only_what_it_copies_and_says_where_the_tree_is(shell, names, tmp_path, monkeypatch, capsys):
    folder = _folder(tmp_path)
    monkeypatch.chdir(folder)  # the kernel's working directory is the notebook's folder
    tag = names("image")
    result = shell.run_cell_magic("dockerfile", tag, "FROM busybox\nCOPY app /app\nCMD [\"sh\", \"/app\"]\n")
    out = capsys.readouterr().out
    sent = float(out.split("Sending build context to nbdock daemon")[1].split("kB")[0])
    assert sent < 100, out  # the 1 MB file and the notebook stayed home
    assert result is None  # the tree is not drawn after every build...
    assert f"built {tag}:latest" not in out and f"built {tag} (" in out and "2 layers, 1 step with none" in out
    assert f"the tree: %dock layers {tag}" in out  # ...but named
    with pytest.raises(UsageError, match="outside the notebook's folder"):
        shell.run_cell_magic("dockerfile", tag, "FROM busybox\nCOPY ../notebooks/../.. /x\n")
