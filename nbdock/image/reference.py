"""Image references, parsed and normalized the way Docker does it.

A reference names an image in a registry::

    [domain[:port]/]path[:tag][@digest]

    busybox                            -> docker.io/library/busybox        (no tag yet)
    busybox:1.36                       -> docker.io/library/busybox:1.36
    alice/tool                         -> docker.io/alice/tool
    localhost:5000/x/y:tag             -> localhost:5000/x/y:tag
    busybox@sha256:<64 hex>            -> docker.io/library/busybox@sha256:<64 hex>

The first path component is a registry *domain* only if it looks like a
host name: it contains a ``.`` or a ``:`` or is ``localhost`` (so
``alice/tool`` is a Docker Hub user, ``ghcr.io/alice/tool`` is not).  Docker
Hub's official images live under ``library/``.  The short ("familiar") form
that ``docker images`` prints drops ``docker.io/`` and ``library/`` again.

The grammar and the error messages follow Docker's reference library
(distribution/reference), because the CLI shows those messages to users and
scripts match on them ("invalid reference format").
"""

from __future__ import annotations

import dataclasses
import re

from ..errors import InvalidArgument

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

# The grammar, piece by piece (distribution/reference regexp.go).
_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]*)"
_PATH_COMPONENT = rf"{_ALPHANUMERIC}(?:{_SEPARATOR}{_ALPHANUMERIC})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[[a-fA-F0-9:]+\]"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|{_IPV6})(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"

_REFERENCE_RE = re.compile(rf"^({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?$")
#: A bare image ID: 64 lowercase hex digits.  Never a repository name.
IMAGE_ID_RE = re.compile(r"^[a-f0-9]{64}$")
SHA256_DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")


@dataclasses.dataclass(frozen=True)
class Reference:
    """A normalized reference.  ``domain`` is always set (``docker.io`` for Docker Hub)."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """The repository: ``docker.io/library/busybox``."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """The repository as users write it: ``busybox``, ``alice/tool``, ``localhost:5000/x``."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        if self.path.startswith(OFFICIAL_REPO_PREFIX) and self.path.count("/") == 1:
            return self.path[len(OFFICIAL_REPO_PREFIX):]
        return self.path

    def _suffix(self) -> str:
        return (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    def __str__(self) -> str:
        return self.name + self._suffix()

    def familiar(self) -> str:
        return self.familiar_name + self._suffix()

    def with_default_tag(self) -> "Reference":
        """``busybox`` means ``busybox:latest``; a reference with a tag or digest stays as it is."""
        if self.tag or self.digest:
            return self
        return dataclasses.replace(self, tag=DEFAULT_TAG)


def _split_domain(text: str) -> tuple[str, str]:
    """Docker's rule for whether the first component is a registry host."""
    first, slash, rest = text.partition("/")
    if not slash or ("." not in first and ":" not in first and first != "localhost" and first.lower() == first):
        domain, remainder = DEFAULT_DOMAIN, text
    else:
        domain, remainder = first, rest
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder


def parse(text: str) -> Reference:
    """Parse and normalize a reference; raises InvalidArgument with Docker's wording."""
    if IMAGE_ID_RE.match(text):
        raise InvalidArgument(f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings")
    domain, remainder = _split_domain(text)
    repository = remainder.split(":", 1)[0]
    if repository.lower() != repository:
        raise InvalidArgument("invalid reference format: repository name must be lowercase")
    full = f"{domain}/{remainder}"
    match = _REFERENCE_RE.match(full)
    if not match:
        raise InvalidArgument("invalid reference format")
    name, tag, digest = match.groups()
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidArgument(f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters")
    if digest and digest.startswith("sha256:") and not SHA256_DIGEST_RE.match(digest):
        raise InvalidArgument("invalid checksum digest length")
    return Reference(domain=domain, path=name[len(domain) + 1:], tag=tag, digest=digest)


def normalize(text: str) -> str:
    """The full, tagged form: ``busybox`` -> ``docker.io/library/busybox:latest``."""
    return str(parse(text).with_default_tag())


def familiar(text: str) -> str:
    """The short form: ``docker.io/library/busybox:latest`` -> ``busybox:latest``."""
    return parse(text).familiar()


def parse_repository_and_tag(repo: str, tag: str = "") -> Reference:
    """The Engine API's ``repo=`` and ``tag=`` pair (``tag`` may be empty, ``repo`` may carry a tag)."""
    ref = parse(repo)
    if tag:
        if ref.tag or ref.digest:
            raise InvalidArgument(f"invalid reference format: both {repo!r} and tag {tag!r} give a tag")
        if not re.fullmatch(_TAG, tag):
            raise InvalidArgument("invalid reference format")
        ref = dataclasses.replace(ref, tag=tag)
    return ref.with_default_tag()


__all__ = [
    "DEFAULT_DOMAIN",
    "DEFAULT_TAG",
    "IMAGE_ID_RE",
    "Reference",
    "familiar",
    "normalize",
    "parse",
    "parse_repository_and_tag",
]
