"""References normalized as Docker normalizes them (pure logic: no root needed)."""

import pytest

from nbdock.errors import InvalidArgument
from nbdock.image import reference

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize("text, normalized, familiar", [
    ("busybox", "docker.io/library/busybox:latest", "busybox"),
    ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
    ("alice/tool", "docker.io/alice/tool:latest", "alice/tool"),
    ("docker.io/library/busybox:latest", "docker.io/library/busybox:latest", "busybox:latest"),
    ("index.docker.io/busybox", "docker.io/library/busybox:latest", "busybox"),
    ("localhost:5000/x/y:tag", "localhost:5000/x/y:tag", "localhost:5000/x/y:tag"),
    ("localhost/x", "localhost/x:latest", "localhost/x"),
    ("ghcr.io/org/img", "ghcr.io/org/img:latest", "ghcr.io/org/img"),
    (f"busybox@{DIGEST}", f"docker.io/library/busybox@{DIGEST}", f"busybox@{DIGEST}"),
    ("a__b-c/e_f.g", "docker.io/a__b-c/e_f.g:latest", "a__b-c/e_f.g"),
    ("my.registry/e", "my.registry/e:latest", "my.registry/e"),  # a dot makes the first part a host
])
def test_normalize_and_familiar(text, normalized, familiar):
    assert reference.normalize(text) == normalized
    assert reference.parse(text).familiar() == familiar
    assert reference.familiar(normalized) == reference.parse(text).with_default_tag().familiar()


@pytest.mark.parametrize("text, message", [
    ("Busybox", "invalid reference format: repository name must be lowercase"),
    ("busybox:", "invalid reference format"),
    ("busy box", "invalid reference format"),
    ("-busybox", "invalid reference format"),
    ("busybox:tag@sha256:abc", "invalid reference format"),
    ("busybox@sha256:" + "a" * 40, "invalid checksum digest length"),
    ("a" * 64, "cannot specify 64-byte hexadecimal strings"),
    ("x" * 256, "repository name must not be more than 255 characters"),
    ("", "invalid reference format"),
])
def test_invalid_references_use_dockers_words(text, message):
    with pytest.raises(InvalidArgument, match=message.replace("(", r"\(")):
        reference.parse(text)


def test_repository_and_tag_pair_of_the_engine_api():
    assert str(reference.parse_repository_and_tag("foo", "v1")) == "docker.io/library/foo:v1"
    assert str(reference.parse_repository_and_tag("foo:v2", "")) == "docker.io/library/foo:v2"
    assert str(reference.parse_repository_and_tag("foo", "")) == "docker.io/library/foo:latest"
    with pytest.raises(InvalidArgument):
        reference.parse_repository_and_tag("foo", "bad tag")
