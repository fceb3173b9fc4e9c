"""Where nbdock lives on a host unless told otherwise (the daemon's flags, the clients' defaults).

Root's daemon lives in system directories. An ordinary user's (rootless) daemon cannot write
there, and must not share them with other users: like Docker's rootless mode, its socket goes
under the user's runtime dir and its data under the user's home, both private to the user.
"""

import os

#: Root daemon's socket (Docker's is unix:///var/run/docker.sock).
DEFAULT_HOST = "unix:///run/nbdock/nbdock.sock"
#: Root daemon's images, containers, volumes and networks (Docker's is /var/lib/docker).
DEFAULT_DATA_ROOT = "/var/lib/nbdock"


def is_rootless(euid=None):
    """True when the caller is not root: its daemon must be the rootless one."""
    return (os.geteuid() if euid is None else euid) != 0


def runtime_dir(euid=None, environ=None):
    """The user's private runtime directory: $XDG_RUNTIME_DIR, else /tmp/nbdock-UID (as Docker's
    rootless mode does; the daemon creates the latter with mode 0700 so no other user can enter)."""
    euid = os.geteuid() if euid is None else euid
    environ = os.environ if environ is None else environ
    return environ.get("XDG_RUNTIME_DIR") or f"/tmp/nbdock-{euid}"


def default_host(euid=None, environ=None):
    """The daemon socket's URL for this user: root's system socket, or the user's own."""
    if not is_rootless(euid):
        return DEFAULT_HOST
    return "unix://" + os.path.join(runtime_dir(euid, environ), "nbdock", "nbdock.sock")


def default_data_root(euid=None, environ=None):
    """The data root for this user: /var/lib/nbdock for root, ~/.local/share/nbdock otherwise
    ($XDG_DATA_HOME/nbdock when that is set)."""
    if not is_rootless(euid):
        return DEFAULT_DATA_ROOT
    environ = os.environ if environ is None else environ
    data_home = environ.get("XDG_DATA_HOME") or os.path.join(
        environ.get("HOME") or os.path.expanduser("~"), ".local", "share")
    return os.path.join(data_home, "nbdock")
