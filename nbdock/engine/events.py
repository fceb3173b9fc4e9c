"""The engine's event stream: what ``docker events`` shows.

Every change of state -- a container created, started, died; an image
pulled, tagged, deleted; a volume or network created -- is published here
in the Docker API's event format, kept for a while (so ``--since`` works),
and pushed to every client following ``GET /events``.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

HISTORY = 1024


class EventBus:
    def __init__(self):
        self._history: deque[dict] = deque(maxlen=HISTORY)
        self._subscribers: set[asyncio.Queue] = set()

    def publish(self, kind: str, action: str, actor_id: str, attributes: dict[str, str] | None = None) -> dict[str, Any]:
        now = time.time_ns()
        attributes = dict(attributes or {})
        event = {
            "Type": kind,
            "Action": action,
            "Actor": {"ID": actor_id, "Attributes": attributes},
            "scope": "local",
            "time": now // 1_000_000_000,
            "timeNano": now,
        }
        if kind == "container":  # the pre-1.22 fields the docker CLI still prints
            event.update({"status": action, "id": actor_id, "from": attributes.get("image", "")})
        self._history.append(event)
        for queue in self._subscribers:
            queue.put_nowait(event)
        return event

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue()
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self._subscribers.discard(queue)

    def since(self, since_ns: int, until_ns: int | None = None) -> list[dict]:
        return [e for e in self._history if e["timeNano"] >= since_ns and (until_ns is None or e["timeNano"] <= until_ns)]


def matches(event: dict, filters: dict[str, list[str]]) -> bool:
    """Docker's event filters: type, event (action), container, image, volume, network, label."""
    actor = event["Actor"]
    attributes = actor.get("Attributes", {})
    checks = {
        "type": lambda v: event["Type"] == v,
        "event": lambda v: event["Action"] == v or event["Action"].split(":")[0] == v,
        "container": lambda v: event["Type"] == "container" and (actor["ID"].startswith(v) or attributes.get("name") == v),
        "image": lambda v: attributes.get("image") == v or (event["Type"] == "image" and (actor["ID"] == v or attributes.get("name") == v)),
        "volume": lambda v: event["Type"] == "volume" and actor["ID"] == v,
        "network": lambda v: event["Type"] == "network" and (actor["ID"].startswith(v) or attributes.get("name") == v),
        "label": lambda v: (lambda k, _, val: k in attributes and (not val or attributes[k] == val))(*v.partition("=")),
    }
    for key, values in filters.items():
        check = checks.get(key)
        if check is not None and values and not any(check(v) for v in values):
            return False
    return True
