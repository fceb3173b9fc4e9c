"""Pseudo-terminals: what ``docker run -t`` gives a container.

A pty is a pair of character devices: the process writes to the *slave*
(it looks like a real terminal: line editing, Ctrl-C becomes SIGINT, window
size), and whoever holds the *master* sees what a screen would show and
types what a keyboard would.  The container's process gets the slave as
fds 0, 1 and 2 and as its controlling terminal; the daemon holds the master
and relays it to ``docker attach``.
"""

from __future__ import annotations

import fcntl
import os
import struct
import termios

# include/uapi/asm-generic/ioctls.h
TIOCGPTN = 0x80045430  # get the number of a pty master's slave
TIOCSPTLCK = 0x40045431  # lock/unlock the slave


def open_pty(uid: int) -> tuple[int, str]:
    """Create a pty in the devpts instance mounted at /dev/pts; return (master fd, slave path).

    Opening /dev/ptmx makes a new master/slave pair.  Because the container
    mounts its own devpts instance, the slave is /dev/pts/0, /dev/pts/1...
    *inside the container*, which is what ``tty`` prints there.
    """
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
    number = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, b"\0" * 4))[0]
    slave_path = f"/dev/pts/{number}"
    # The user owns its terminal; the group stays "tty" (gid 5, from devpts's gid= option) as with runc.
    os.chown(slave_path, uid, -1)
    return master, slave_path


def make_controlling_terminal(slave_path: str) -> None:
    """Open the slave, make it our controlling terminal (we must be a session leader) and fds 0-2."""
    slave = os.open(slave_path, os.O_RDWR)
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)


def set_window_size(master: int, rows: int, columns: int) -> None:
    """What the terminal reports as its size (the kernel sends SIGWINCH to the foreground group)."""
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
