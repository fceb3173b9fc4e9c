"""The build context of a ``%%dockerfile`` cell: only the files its COPY and ADD name.

``docker build DIR`` sends the whole of DIR to the daemon, which is why
Docker projects keep a ``.dockerignore``.  A notebook's folder holds the
lessons, their outputs and anything else the reader saved there; a cell
that says ``COPY app /usr/local/bin/app`` needs ``app`` alone.  So without
``--context`` a cell's context is a temporary directory holding:

* the files and directories its ``COPY``/``ADD`` sources name, looked up in
  the notebook's folder (the kernel's working directory) as the daemon
  would look them up in a context -- a leading ``/`` counts from the folder,
  a wildcard (``*.txt``) brings every match, ``.`` brings the whole folder;
* the folder's ``.dockerignore``, if it has one, so that Docker's rules
  still apply to what is sent (``COPY . /app`` with ``*.ipynb`` ignored).

A source outside the folder (``COPY ../secret /``) is refused here, with
the path, as the daemon refuses a path outside its context.  What is left
out: ``COPY --from`` (another stage's files, not the context's), ``ADD``
of a URL (the daemon fetches it), and triggers a base image's ``ONBUILD``
runs (they are not in the cell: give ``--context DIR`` for those).  A
source with a variable in it (``COPY $APP /``) is only known during the
build: that cell needs ``--context DIR`` too, and is told so.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile

from nbdock.builder.context import is_http_url
from nbdock.builder.parser import parse_dockerfile

from .errors import CommandError

#: Where the reader may put what Docker must not send; copied into the cell's context when present.
DOCKERIGNORE = ".dockerignore"


def context_sources(dockerfile_text: str) -> list[str]:
    """The COPY/ADD sources of a Dockerfile that come from its context, in order, each once."""
    dockerfile = parse_dockerfile(dockerfile_text, "the cell")
    sources: list[str] = []
    for stage in dockerfile.stages:
        for instruction in stage.commands:
            if getattr(instruction, "from_stage", "") or not hasattr(instruction, "sources"):
                continue  # not a COPY/ADD, or a COPY --from another stage or image
            for source in instruction.sources:
                if is_http_url(source) or source in sources:
                    continue  # ADD https://...: the daemon downloads it
                if "$" in source:
                    raise CommandError(f"%%dockerfile: {instruction.KEYWORD} {source}: a variable in a source is only "
                                       "known during the build; give the cell --context DIR to send a whole folder")
                sources.append(source)
    return sources


def cell_context(dockerfile_text: str, folder: str, destination: str) -> list[str]:
    """Copy what the cell's COPY/ADD name from ``folder`` into ``destination``; return the paths copied.

    Paths are relative to ``folder``.  A source that matches nothing is left
    to the daemon, whose message for it is Docker's (``COPY failed: file not
    found in build context``).
    """
    folder = os.path.realpath(folder)
    copied: list[str] = []
    for source in context_sources(dockerfile_text):
        for path in _matches(folder, source):
            _refuse_outside(folder, source, path)
            relative = os.path.relpath(path, folder)
            if relative == ".":
                _copy_tree(folder, destination)
                return ["."]
            if not any(relative == done or relative.startswith(done + os.sep) for done in copied):
                _copy(path, os.path.join(destination, relative))
                copied.append(relative)
    ignore_file = os.path.join(folder, DOCKERIGNORE)
    if os.path.isfile(ignore_file):
        shutil.copy2(ignore_file, os.path.join(destination, DOCKERIGNORE))
    return copied


def _matches(folder: str, source: str) -> list[str]:
    """The paths one source names under ``folder`` (a leading ``/`` is the context's root, as in Docker)."""
    pattern = os.path.normpath(os.path.join(folder, source.lstrip("/") or "."))
    if glob.has_magic(source):
        return sorted(glob.glob(pattern, include_hidden=True))
    return [pattern] if os.path.lexists(pattern) else []


def _refuse_outside(folder: str, source: str, path: str) -> None:
    """A source must lie in the folder, links followed: the daemon would refuse it outside its context."""
    real = os.path.realpath(path)
    if real != folder and not real.startswith(folder + os.sep):
        raise CommandError(f"%%dockerfile: COPY/ADD {source}: {real} is outside the notebook's folder {folder}, "
                           "and a build sees only its context; move the file in, or give --context DIR")


def _copy(path: str, target: str) -> None:
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.isdir(path) and not os.path.islink(path):
        _copy_tree(path, target)
    else:
        shutil.copy2(path, target, follow_symlinks=False)


def _copy_tree(path: str, target: str) -> None:
    """A directory as it is: links kept as links (the daemon decides what a link in a context means)."""
    shutil.copytree(path, target, symlinks=True, dirs_exist_ok=True)


def temporary_context() -> tempfile.TemporaryDirectory:
    """The directory a cell's context is gathered in; removed when the build is done."""
    return tempfile.TemporaryDirectory(prefix="nbdock-cell-context-")
