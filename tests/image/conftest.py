"""Fixtures for the image store tests: a fresh store, tar builders, and real overlay mounts."""

import contextlib
import io
import os
import subprocess
import tarfile

import pytest

from nbdock.image.store import ImageStore


@pytest.fixture
def store(tmp_path):
    data_root = tmp_path / "data-root"
    yield ImageStore(str(data_root))
    # Nothing may be left in staging after any operation, successful or not.
    assert os.listdir(data_root / "tmp") == []


def make_tar(members, *, fmt=tarfile.PAX_FORMAT) -> bytes:
    """A tar from (TarInfo fields, content) pairs: {"name": ..., "type": ..., ...}, b"..."."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        for fields, content in members:
            info = tarfile.TarInfo(fields["name"])
            for key, value in fields.items():
                setattr(info, key, value)
            if content is not None:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
            else:
                tar.addfile(info)
    return out.getvalue()


def file(name, content=b"", **fields):
    return {"name": name, "mode": 0o644, **fields}, content


def directory(name, **fields):
    return {"name": name, "type": tarfile.DIRTYPE, "mode": 0o755, **fields}, None


def symlink(name, target):
    return {"name": name, "type": tarfile.SYMTYPE, "linkname": target, "mode": 0o777}, None


def hardlink(name, target):
    return {"name": name, "type": tarfile.LNKTYPE, "linkname": target}, None


@contextlib.contextmanager
def overlay(lowerdirs, tmp_path, *, upper=True):
    """Mount overlayfs over ``lowerdirs`` (top-most first) the way the runtime does; yields (merged, upper)."""
    merged = tmp_path / f"merged-{len(os.listdir(tmp_path))}"
    merged.mkdir()
    options = "lowerdir=" + ":".join(lowerdirs)
    upper_dir = None
    if upper:
        upper_dir, work = tmp_path / f"upper-{merged.name}", tmp_path / f"work-{merged.name}"
        upper_dir.mkdir()
        work.mkdir()
        options += f",upperdir={upper_dir},workdir={work}"
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, str(merged)], check=True)
    try:
        yield str(merged), (str(upper_dir) if upper_dir else None)
    finally:
        subprocess.run(["umount", str(merged)], check=True)


def tree(root):
    """{relative path: kind} of everything below root ("d", "f:<content>", "l:<target>")."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            if os.path.islink(path):
                found[rel] = "l:" + os.readlink(path)
            elif os.path.isdir(path):
                found[rel] = "d"
            else:
                with open(path, "rb") as f:
                    found[rel] = "f:" + f.read().decode(errors="replace")
    return found


class _TarBuilder:
    """The helpers above, as one fixture (test modules cannot import conftest under importlib mode)."""

    make_tar = staticmethod(make_tar)
    file = staticmethod(file)
    directory = staticmethod(directory)
    symlink = staticmethod(symlink)
    hardlink = staticmethod(hardlink)
    tree = staticmethod(tree)


@pytest.fixture
def tb():
    return _TarBuilder


@pytest.fixture
def mount_overlay(tmp_path):
    """mount_overlay(lowerdirs) -> context manager yielding (merged dir, upper dir)."""
    mounts_dir = tmp_path / "mounts"
    mounts_dir.mkdir()
    return lambda lowerdirs, **kw: overlay(lowerdirs, mounts_dir, **kw)
