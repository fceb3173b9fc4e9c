"""The build cache: reusing the image an identical step made before.

Docker's classic builder keeps no separate cache.  Every step's result is an
image whose *parent* is the image the step started from, and whose
``container_config`` records what the step did: its command (``/bin/sh -c
make``, or ``#(nop) ENV A=1``, or ``#(nop) COPY file:<checksum> in /app``),
its environment, labels, user and so on.  To run a step again, the builder
looks among the parent's children for one whose ``container_config`` is the
same as the step it is about to run; if one exists, its image *is* the
step's result (" ---> Using cache").

Two consequences users meet:

* A step's cache key is its text, not what it did: ``RUN apt-get update``
  hits the cache forever, whatever changed upstream.  Only COPY and ADD
  look at content, through the checksum in their command.
* Once one step misses, every later step of the stage misses too: their
  parent is a brand-new image without children (the builder does not even
  look any more).

Only some fields take part in the comparison (moby's ``image/cache/compare.go``):
the working directory, for one, does not -- WORKDIR changes the command
text of its own step, and that is enough.
"""

from __future__ import annotations

from typing import Any

from ..errors import NbdockError
from ..image.store import ImageStore, parse_time


def find_cached_step(store: ImageStore, parent_id: str, step_config: dict[str, Any]) -> str | None:
    """The most recent child of ``parent_id`` ("" for FROM scratch) made by the same step, or None."""
    best, best_created = None, -1.0
    for child_id in store.children(parent_id):
        config = store.config(child_id)
        if same_step(config.get("container_config") or {}, step_config):
            created = parse_time(config.get("created", ""))
            if created > best_created:
                best, best_created = child_id, created
    return best


def cache_sources(store: ImageStore, refs: list[str]) -> set[str]:
    """``--cache-from``: the images the cache may come from -- each one given, and its ancestors.

    With ``--cache-from`` Docker trusts only those images: a step's earlier
    result is reused only if it lies on the history of one of them (moby's
    ``ImageCache.GetCache``: the local hit must have a source as descendant).
    A reference that names no image is skipped, as Docker skips it (with a
    warning in its own log only): the build then runs without any cache.

    (Docker also rebuilds a cache hit from the *history* of a pulled image,
    whose parents are not here; nbdock's cache follows local parents only.)
    """
    allowed: set[str] = set()
    for ref in refs:
        try:
            current = store.resolve(ref)
        except NbdockError:  # no such image, or not a reference at all
            continue
        while current and current not in allowed:
            allowed.add(current)
            current = store.get(current).parent
    return allowed


def same_step(recorded: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Docker's comparison of two container configs for the cache.

    A config that keeps stdin open never matches: such a step was
    interactive, its result cannot be trusted to be reproducible.
    """
    if recorded.get("OpenStdin") or wanted.get("OpenStdin"):
        return False
    for flag in ("AttachStdout", "AttachStderr", "Tty"):
        if bool(recorded.get(flag)) != bool(wanted.get(flag)):
            return False
    if (recorded.get("User") or "") != (wanted.get("User") or ""):
        return False
    # Lists must be equal in order; maps only need the same keys (and, for labels, values).
    for key in ("Cmd", "Env", "Entrypoint"):
        if list(recorded.get(key) or []) != list(wanted.get(key) or []):
            return False
    recorded_labels, wanted_labels = recorded.get("Labels") or {}, wanted.get("Labels") or {}
    if recorded_labels != wanted_labels:
        return False
    for key in ("ExposedPorts", "Volumes"):
        if set(recorded.get(key) or {}) != set(wanted.get(key) or {}):
            return False
    return True
