"""Resolving ``-u name|uid[:group|gid]`` the way Docker does: in the *image's* files.

The host's /etc/passwd means nothing inside a container: user 1000 may be
"alice" on the host and "postgres" in the image.  So the lookup happens after
pivot_root, in the container's own /etc/passwd and /etc/group -- which is
also why a numeric uid that the image does not know is still accepted (the
kernel only deals in numbers), while an unknown *name* is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ExecUser:
    uid: int = 0
    gid: int = 0
    home: str = "/"
    groups: list[int] = field(default_factory=list)  # supplementary groups


class UserLookupError(Exception):
    pass


def _read_entries(path: str) -> list[list[str]]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [line.split(":") for line in lines if line and not line.startswith("#")]


def resolve(spec: str, passwd_path: str = "/etc/passwd", group_path: str = "/etc/group", *,
            additional_groups=()) -> ExecUser:
    """Turn Docker's ``--user`` value into numbers, home directory and supplementary groups
    (plus the ``--group-add`` ones, names or gids)."""
    user_part, _, group_part = (spec or "").partition(":")
    passwd = _read_entries(passwd_path)
    result = ExecUser()
    user_name = None

    if user_part:
        entry = next((e for e in passwd if len(e) >= 6 and (e[0] == user_part or e[2] == user_part)), None)
        if entry is not None:
            user_name = entry[0]
            result.uid, result.gid, result.home = int(entry[2]), int(entry[3]), entry[5] or "/"
        elif user_part.isdigit():
            result.uid = int(user_part)
        else:
            raise UserLookupError(f"unable to find user {user_part}: no matching entries in passwd file")
    else:
        root = next((e for e in passwd if len(e) >= 6 and e[2] == "0"), None)
        if root is not None:
            user_name, result.home = root[0], root[5] or "/"

    groups = _read_entries(group_path)
    if group_part:
        entry = next((e for e in groups if len(e) >= 3 and (e[0] == group_part or e[2] == group_part)), None)
        if entry is not None:
            result.gid = int(entry[2])
        elif group_part.isdigit():
            result.gid = int(group_part)
        else:
            raise UserLookupError(f"unable to find group {group_part}: no matching entries in group file")
    elif user_name is not None:
        # Only a user found by name in /etc/passwd has group memberships.
        for entry in groups:
            if len(entry) >= 4 and user_name in entry[3].split(",") and entry[2].isdigit():
                result.groups.append(int(entry[2]))
    for wanted in additional_groups:
        entry = next((e for e in groups if len(e) >= 3 and (e[0] == wanted or e[2] == wanted)), None)
        if entry is not None:
            result.groups.append(int(entry[2]))
        elif wanted.isdigit():
            result.groups.append(int(wanted))
        else:
            raise UserLookupError(f"Unable to find group {wanted}: no matching entries in group file")
    if result.gid not in result.groups:
        result.groups.insert(0, result.gid)
    return result
