"""The resource limits a container's process may be given (``--ulimit``), by the names ``ulimit`` uses.

One home for the table: the engine reads it to refuse an unknown name when
a container is created, and the container's init (init.py) reads it to call
setrlimit(2) just before execve -- limits are per process and inherited
across fork and execve, so set on PID 1 they hold for everything it starts.
"""

#: ``--ulimit`` names (as the ``ulimit`` command spells them) -> setrlimit(2) resource numbers
#: (include/uapi/asm-generic/resource.h; Python's resource module lacks a few of them).
RLIMITS = {"cpu": 0, "fsize": 1, "data": 2, "stack": 3, "core": 4, "rss": 5, "nproc": 6, "nofile": 7, "memlock": 8,
           "as": 9, "locks": 10, "sigpending": 11, "msgqueue": 12, "nice": 13, "rtprio": 14, "rttime": 15}
