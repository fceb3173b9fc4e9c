"""What the engine remembers about a container, on disk and in the shape of ``docker inspect``.

Each container has a directory under <data-root>/containers/<id>/ holding
``container.json``: its configuration (Docker's ``Config`` and
``HostConfig`` objects, as the client sent them, merged with the image's)
and its state.  It is rewritten atomically (a temporary file renamed over
the old one), so a crash leaves either the old or the new state, never half
of one, and a restarted daemon still lists every container.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from . import clock, mounts


@dataclass
class State:
    """Docker's ``State`` object."""

    Status: str = "created"  # created, running, paused, restarting, removing, exited, dead
    Running: bool = False
    Paused: bool = False
    Restarting: bool = False
    OOMKilled: bool = False
    Dead: bool = False
    Pid: int = 0
    ExitCode: int = 0
    Error: str = ""
    StartedAt: str = clock.ZERO_TIME
    FinishedAt: str = clock.ZERO_TIME

    def summary(self) -> str:
        """The STATUS column of ``docker ps``: "Up 5 seconds", "Exited (0) 3 seconds ago"..."""
        now = time.time()
        if self.Running:
            up = "Up " + clock.human_duration(now - clock.parse_rfc3339(self.StartedAt))
            if self.Paused:
                return up + " (Paused)"
            if self.Restarting:
                return f"Restarting ({self.ExitCode}) {clock.human_duration(now - clock.parse_rfc3339(self.FinishedAt))} ago"
            return up
        if self.Status == "removing":
            return "Removal In Progress"
        if self.Dead:
            return "Dead"
        if self.StartedAt == clock.ZERO_TIME:
            return "Created"
        if self.FinishedAt == clock.ZERO_TIME:
            return ""
        return f"Exited ({self.ExitCode}) {clock.human_duration(now - clock.parse_rfc3339(self.FinishedAt))} ago"


@dataclass
class ContainerRecord:
    Id: str
    Name: str  # with the leading "/", as Docker stores it
    Created: str
    Image: str  # the image id, sha256:...
    ImageName: str  # what the user asked for ("busybox")
    Path: str
    Args: list[str]
    Config: dict[str, Any]
    HostConfig: dict[str, Any]
    State: State = field(default_factory=State)
    #: Mount points as engine/mounts.py plans them (inspect's "Mounts" is a view of these).
    MountPoints: list[dict[str, Any]] = field(default_factory=list)
    NetworkSettings: dict[str, Any] = field(default_factory=dict)
    RestartCount: int = 0
    #: True once the user stopped it: a restart policy no longer applies.
    ManualStop: bool = False

    # -- where things live
    def directory(self, root: str) -> str:
        return os.path.join(root, "containers", self.Id)

    @property
    def short_id(self) -> str:
        return self.Id[:12]

    @property
    def name(self) -> str:
        return self.Name.lstrip("/")

    # -- persistence
    def save(self, root: str) -> None:
        directory = self.directory(root)
        temporary = os.path.join(directory, ".container.json.tmp")
        with open(temporary, "w") as f:
            json.dump(asdict(self), f)
        os.replace(temporary, os.path.join(directory, "container.json"))

    @classmethod
    def load(cls, path: str) -> "ContainerRecord":
        with open(path) as f:
            data = json.load(f)
        data["State"] = State(**data["State"])
        return cls(**data)

    # -- the Docker API's views
    def to_inspect(self, root: str) -> dict[str, Any]:
        directory = self.directory(root)
        return {
            "Id": self.Id,
            "Created": self.Created,
            "Path": self.Path,
            "Args": self.Args,
            "State": asdict(self.State),
            "Image": self.Image,
            "ResolvConfPath": os.path.join(directory, "resolv.conf"),
            "HostnamePath": os.path.join(directory, "hostname"),
            "HostsPath": os.path.join(directory, "hosts"),
            "LogPath": os.path.join(directory, f"{self.Id}-json.log"),
            "Name": self.Name,
            "RestartCount": self.RestartCount,
            "Driver": "overlay2",
            "Platform": "linux",
            "MountLabel": "",
            "ProcessLabel": "",
            "AppArmorProfile": "",
            "ExecIDs": None,
            "HostConfig": self.HostConfig,
            "GraphDriver": {
                "Name": "overlay2",
                "Data": {
                    "UpperDir": os.path.join(directory, "upper"),
                    "WorkDir": os.path.join(directory, "work"),
                    "MergedDir": os.path.join(directory, "rootfs"),
                },
            },
            "Mounts": mounts.inspect_view(self.MountPoints),
            "Config": self.Config,
            "NetworkSettings": self.NetworkSettings,
        }

    def to_summary(self) -> dict[str, Any]:
        """One entry of ``GET /containers/json`` (``docker ps``)."""
        # Docker quotes the arguments that hold a space (not the path), in single quotes.
        command = " ".join([self.Path, *(f"'{arg}'" if " " in arg else arg for arg in self.Args)])
        return {
            "Id": self.Id,
            "Names": [self.Name],
            "Image": self.ImageName,
            "ImageID": self.Image,
            "Command": command,
            "Created": int(clock.parse_rfc3339(self.Created)),
            "Ports": _ports_summary(self.NetworkSettings.get("Ports") or {}, self.Config.get("ExposedPorts") or {}),
            "Labels": self.Config.get("Labels") or {},
            "State": self.State.Status,
            "Status": self.State.summary(),
            "HostConfig": {"NetworkMode": self.HostConfig.get("NetworkMode", "default")},
            "NetworkSettings": {"Networks": self.NetworkSettings.get("Networks") or {}},
            "Mounts": mounts.inspect_view(self.MountPoints),
        }


def _ports_summary(ports: dict, exposed: dict) -> list[dict]:
    """``docker ps``'s port list: one entry per published binding, and one per exposed-only port."""
    result = []
    for key in sorted(set(ports) | set(exposed)):
        number, _, proto = key.partition("/")
        bindings = ports.get(key)
        if not bindings:
            result.append({"PrivatePort": int(number), "Type": proto or "tcp"})
            continue
        for binding in bindings:
            result.append({
                "IP": binding.get("HostIp", ""),
                "PrivatePort": int(number),
                "PublicPort": int(binding.get("HostPort") or 0),
                "Type": proto or "tcp",
            })
    return result
