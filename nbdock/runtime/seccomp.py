"""Seccomp: the system calls a container's processes may make at all.

Capabilities decide what root may do *with* a system call; seccomp decides
which system calls reach the kernel in the first place.  A seccomp filter is
a small BPF program the kernel runs on every system call the process makes,
before the call does anything: it sees the call's number, its architecture
and its six raw arguments (never the memory they point to), and answers
"allow", "fail with this errno", "kill" or "trap".

Docker installs one by default (``grep Seccomp /proc/self/status`` says 2,
"filter mode"): an allow-list of ~350 calls, and EPERM for every other --
among them keyctl, kexec_load, bpf, perf_event_open, open_by_handle_at and
unshare of a user namespace (a way to get CAP_SYS_ADMIN back inside a new
user namespace and mount file systems).  Some rules depend on the container's capabilities: with
CAP_SYS_ADMIN, mount, unshare and setns are allowed; without it, clone may
be called only without the CLONE_NEW* flags.

The work is split as in Docker:

* :func:`resolve` is moby's part (``profiles/seccomp``): a profile in
  Docker's JSON format, with its per-architecture, per-capability and
  per-kernel ``includes``/``excludes``, becomes the flat list of rules for
  *this* process;
* :class:`Filter` is runc's part (``libcontainer/seccomp``): those rules
  become libseccomp calls, and libseccomp compiles them into the BPF program
  and loads it.  We bind the system's ``libseccomp.so.2`` with ctypes, as
  runc and crun use the same library, rather than assemble BPF by hand.
  :class:`Program` keeps a program libseccomp compiled earlier (Docker's
  default, compiled once in the spawner) to be loaded in a container.

The kernel's rules for a filter (seccomp(2)):

* installing one needs ``no_new_privs`` set *or* CAP_SYS_ADMIN: otherwise a
  filter could make a setuid program fail a call it relies on (dropping
  privileges, say) and be abused.  libseccomp sets no_new_privs itself by
  default; like runc, we turn that off (``SCMP_FLTATR_CTL_NNP``), so that
  ``--security-opt no-new-privileges`` alone decides it;
* a filter is inherited across fork, clone and execve, and can never be
  removed: more filters can only be stacked on top, and the strictest
  answer wins.  So it is loaded as late as possible (init.py's ``_exec``):
  last before execve with no_new_privs; otherwise before the switch to the
  user's uid and capabilities, which takes CAP_SYS_ADMIN away.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import platform
from dataclasses import dataclass, field

from ..kernel import libc
from ..kernel.libc import SyscallError
from . import capabilities

#: Docker's default profile (moby's profiles/seccomp/default.json, Docker 20.10.24), read once at
#: import: a container's process looks for it after pivot_root, when this package is out of reach.
DEFAULT_PROFILE_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seccomp_default.json")
with open(DEFAULT_PROFILE_PATH, encoding="utf-8") as _f:
    DEFAULT_PROFILE = json.load(_f)

#: The values of ``Process.seccomp`` besides the JSON text of a profile.
DEFAULT = "default"
UNCONFINED = "unconfined"


class ProfileError(ValueError):
    """A profile that cannot be used, in Docker's words.

    ``from_runtime`` says whose words: moby's (the JSON, name/names) or
    runc's (actions, operators, architectures), which Docker relays wrapped
    in its "OCI runtime create failed" sentence.
    """

    def __init__(self, message: str, *, from_runtime: bool = False):
        super().__init__(message)
        self.from_runtime = from_runtime


# --- libseccomp (include/seccomp.h of libseccomp 2.5) --------------------------------------------

try:
    _lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
except OSError:  # reported when a filter is needed, not when nbdock is imported
    _lib = None
else:
    _lib.seccomp_init.argtypes = [ctypes.c_uint32]
    _lib.seccomp_init.restype = ctypes.c_void_p  # scmp_filter_ctx, NULL on failure
    _lib.seccomp_release.argtypes = [ctypes.c_void_p]
    _lib.seccomp_release.restype = None
    _lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    _lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
    _lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32  # 0: unknown
    _lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    _lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]  # __NR_SCMP_ERROR (-1): unknown
    _lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                            ctypes.c_void_p]
    _lib.seccomp_load.argtypes = [ctypes.c_void_p]
    _lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    # Every int-returning call answers 0 or -errno (not -1 and errno).

SCMP_FLTATR_CTL_NNP = 3  # enum scmp_filter_attr: set no_new_privs when the filter is loaded
PR_SET_SECCOMP = 22  # include/uapi/linux/prctl.h
SECCOMP_MODE_FILTER = 2  # include/uapi/linux/seccomp.h: a BPF program (mode 1, "strict", allows 4 calls)

#: Actions as Docker's profiles spell them -> libseccomp's numbers (the errno goes in the low 16 bits).
ACTIONS = {
    "SCMP_ACT_KILL": 0x00000000,  # the thread that made the call (SCMP_ACT_KILL_THREAD)
    "SCMP_ACT_KILL_THREAD": 0x00000000,
    "SCMP_ACT_KILL_PROCESS": 0x80000000,
    "SCMP_ACT_TRAP": 0x00030000,  # SIGSYS, which a handler can catch
    "SCMP_ACT_ERRNO": 0x00050000,  # fail with errnoRet (EPERM unless the profile says otherwise)
    "SCMP_ACT_TRACE": 0x7FF00000,  # hand the call to a ptrace(2) tracer
    "SCMP_ACT_LOG": 0x7FFC0000,  # allow, and log it in the audit log
    "SCMP_ACT_ALLOW": 0x7FFF0000,
}

#: Comparison operators of argument conditions -> enum scmp_compare.
OPERATORS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4, "SCMP_CMP_GE": 5,
             "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}  # fmt: skip


class _ArgCmp(ctypes.Structure):
    """struct scmp_arg_cmp: argument ``arg`` compared by ``op`` (MASKED_EQ: ``arg & datum_a == datum_b``)."""

    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


class _SockFprog(ctypes.Structure):
    """struct sock_fprog (include/uapi/linux/filter.h): a classic BPF program, 8 bytes an instruction."""

    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _library():
    if _lib is None:
        raise ProfileError("seccomp: libseccomp.so.2 is not installed on this host (Debian: libseccomp2)")
    return _lib


# --- moby's half: a Docker profile -> the rules for one process ----------------------------------

#: platform.machine() -> the architecture names of a profile's includes/excludes (Go's, as moby uses them).
_DOCKER_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "i686": "x86", "i386": "x86", "armv7l": "arm",
                "ppc64le": "ppc64le", "s390x": "s390x", "mips64": "mips64", "riscv64": "riscv64"}
#: ... and the SCMP_ARCH_ name of its archMap entry.
_SCMP_ARCH = {"amd64": "SCMP_ARCH_X86_64", "arm64": "SCMP_ARCH_AARCH64", "x86": "SCMP_ARCH_X86",
              "arm": "SCMP_ARCH_ARM", "ppc64le": "SCMP_ARCH_PPC64LE", "s390x": "SCMP_ARCH_S390X",
              "mips64": "SCMP_ARCH_MIPS64", "riscv64": "SCMP_ARCH_RISCV64"}


def host_arch() -> str:
    machine = platform.machine()
    return _DOCKER_ARCH.get(machine, machine)


def _kernel_version() -> tuple[int, int]:
    major, minor = os.uname().release.split(".")[:2]
    return int(major), int("".join(ch for ch in minor if ch.isdigit()) or 0)


@dataclass
class Rule:
    """One syscall rule after resolution: these names get this action when all ``args`` conditions hold."""

    names: list[str]
    action: str
    errno_ret: int | None = None
    args: list[dict] = field(default_factory=list)


@dataclass
class Resolved:
    """A profile resolved for one process: what runc receives in ``linux.seccomp`` of config.json."""

    default_action: str
    default_errno_ret: int | None
    architectures: list[str]
    rules: list[Rule]


def parse(text: str) -> dict:
    """A profile's JSON text as a dict, or Docker's error for text that is not one."""
    try:
        profile = json.loads(text)
    except ValueError as e:
        raise ProfileError(f"Decoding seccomp profile failed: {e}") from None
    if not isinstance(profile, dict):
        raise ProfileError(f"Decoding seccomp profile failed: a profile is a JSON object, not {text[:40]!r}")
    return profile


def _typed(where: dict, key: str, kind, default, context: str):
    value = where.get(key)
    if value is None:
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        name = {str: "a string", list: "a list", dict: "an object", int: "an integer"}[kind]
        raise ProfileError(f"Decoding seccomp profile failed: {context}{key} must be {name}, not {json.dumps(value)}")
    return value


def _names(where: dict, key: str, context: str) -> set[str]:
    """A list of strings (capability or architecture names) as a set."""
    values = _typed(where, key, list, [], context)
    if not all(isinstance(value, str) for value in values):
        raise ProfileError(f"Decoding seccomp profile failed: {context}{key} must be a list of strings")
    return set(values)


def _min_kernel(condition: dict, context: str) -> tuple[int, int] | None:
    text = _typed(condition, "minKernel", str, "", context)
    if not text:
        return None
    parts = text.split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or parts == ["0", "0"]:
        raise ProfileError(f'Decoding seccomp profile failed: invalid kernel version: "{text}", expected "<kernel>.<major>"')
    return int(parts[0]), int(parts[1])


def resolve(profile: dict, capability_mask: int, *, arch: str | None = None,
            kernel: tuple[int, int] | None = None) -> Resolved | None:
    """The rules of ``profile`` that apply to a process with these capabilities, here (moby's setupSeccomp).

    A syscall entry is kept when none of its ``excludes`` and all of its
    ``includes`` match: ``arches`` (this machine's), ``caps`` (in the
    process's bounding set, which is ``capability_mask``) and ``minKernel``
    (this kernel is at least that version).  ``archMap`` becomes the list of
    architectures the filter accepts: x86_64 with its 32-bit x86 and x32
    ABIs, for example; a call made through any other ABI gets killed.

    None means "no filter": a profile with neither a defaultAction nor any
    syscalls, as in Docker.
    """
    arch = arch or host_arch()
    kernel = kernel or _kernel_version()
    held = {"CAP_" + name for name in capabilities.from_mask(capability_mask)}
    default_action = _typed(profile, "defaultAction", str, "", "")
    syscalls = _typed(profile, "syscalls", list, [], "")
    if not default_action and not syscalls:
        return None
    architectures = _typed(profile, "architectures", list, [], "")
    arch_map = _typed(profile, "archMap", list, [], "")
    if architectures and arch_map:
        raise ProfileError("'architectures' and 'archMap' were specified in the seccomp profile, "
                           "use either 'architectures' or 'archMap'")
    architectures = list(architectures)
    for entry in arch_map:
        if isinstance(entry, dict) and entry.get("architecture") == _SCMP_ARCH.get(arch):
            architectures += [entry["architecture"], *(entry.get("subArchitectures") or [])]
            break

    rules = []
    for number, call in enumerate(syscalls):
        context = f"syscalls[{number}]."
        if not isinstance(call, dict):
            raise ProfileError(f"Decoding seccomp profile failed: {context[:-1]} must be an object")
        excludes = _typed(call, "excludes", dict, {}, context)
        includes = _typed(call, "includes", dict, {}, context)
        if arch in _names(excludes, "arches", context + "excludes."):
            continue
        if held & _names(excludes, "caps", context + "excludes."):
            continue
        too_new = _min_kernel(excludes, context + "excludes.")
        if too_new and kernel >= too_new:
            continue
        only_on = _names(includes, "arches", context + "includes.")
        if only_on and arch not in only_on:
            continue
        if not _names(includes, "caps", context + "includes.") <= held:
            continue
        needs = _min_kernel(includes, context + "includes.")
        if needs and kernel < needs:
            continue
        name = _typed(call, "name", str, "", context)
        names = _typed(call, "names", list, [], context)
        if name and names:
            raise ProfileError("'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'")
        errno_ret = _typed(call, "errnoRet", int, None, context)
        args = _typed(call, "args", list, [], context)
        rules.append(Rule([name] if name else list(names), _typed(call, "action", str, "", context), errno_ret, args))
    return Resolved(default_action, _typed(profile, "defaultErrnoRet", int, None, ""), architectures, rules)


# --- runc's half: the rules -> libseccomp -> a BPF program in the kernel -------------------------


def _action(name: str, errno_ret: int | None) -> int:
    if name not in ACTIONS:
        raise ProfileError(f"string {name} is not a valid action for seccomp", from_runtime=True)
    value = ACTIONS[name]
    if name in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        value |= (errno.EPERM if errno_ret is None else errno_ret) & 0xFFFF
    return value


def _condition(arg: dict, syscall: str) -> _ArgCmp:
    if not isinstance(arg, dict):
        raise ProfileError(f"Decoding seccomp profile failed: an argument condition of {syscall} must be an object")
    op = arg.get("op", "")
    if op not in OPERATORS:
        raise ProfileError(f"string {op} is not a valid operator for seccomp", from_runtime=True)
    index, value, value_two = arg.get("index", 0), arg.get("value", 0), arg.get("valueTwo", 0)
    for number in (index, value, value_two):
        if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number < 1 << 64:
            raise ProfileError(f"Decoding seccomp profile failed: argument condition of {syscall}: "
                               f"{json.dumps(number)} is not an unsigned 64-bit integer")
    if index > 5:  # a system call has at most six arguments
        raise ProfileError(f"failed to create seccomp syscall condition for syscall {syscall}: "
                           f"argument index {index} is out of range (0-5)", from_runtime=True)
    # MASKED_EQ takes the mask first and the value second, as runc passes them.
    return _ArgCmp(index, OPERATORS[op], value, value_two)


class Filter:
    """A seccomp filter being built with libseccomp, then loaded into the calling process.

    Building needs no privilege (it is only memory inside libseccomp): the
    daemon builds and releases one to check a profile when the container is
    created.  :meth:`load` is what installs it, for good.
    """

    def __init__(self, resolved: Resolved, name: str):
        lib = _library()
        self.name = name
        self.default_action = resolved.default_action
        self.allowed: set[str] = set()  # names that got an allow rule (some with argument conditions)
        self.skipped: list[str] = []  # names this libseccomp does not know on this architecture
        default = _action(resolved.default_action, resolved.default_errno_ret)
        self._ctx = lib.seccomp_init(default)
        if not self._ctx:
            raise ProfileError(f"seccomp_init({resolved.default_action}) failed", from_runtime=True)
        try:
            self._check(lib.seccomp_attr_set(self._ctx, SCMP_FLTATR_CTL_NNP, 0), "seccomp_attr_set", "CTL_NNP", 0)
            for arch in resolved.architectures:
                token = lib.seccomp_arch_resolve_name(str(arch).removeprefix("SCMP_ARCH_").lower().encode())
                if not token:
                    raise ProfileError(f"string {arch} is not a valid arch for seccomp", from_runtime=True)
                result = lib.seccomp_arch_add(self._ctx, token)
                if result != -errno.EEXIST:  # the native architecture is in every new filter already
                    self._check(result, "seccomp_arch_add", arch)
            for rule in resolved.rules:
                self._add(rule, default)
        except BaseException:
            self.release()
            raise

    def _add(self, rule: Rule, default: int) -> None:
        lib = _library()
        action = _action(rule.action, rule.errno_ret)
        conditions = [_condition(arg, "/".join(map(str, rule.names))) for arg in rule.args]
        # Two conditions on the same argument can never both hold in one rule (arg == 0 and arg == 8):
        # runc then adds one rule per condition, any of which matches.
        indexes = [c.arg for c in conditions]
        groups = [[c] for c in conditions] if len(set(indexes)) < len(indexes) else [conditions]
        for name in rule.names:
            if not isinstance(name, str) or not name:
                raise ProfileError("empty string is not a valid syscall", from_runtime=True)
            if action == default:
                continue  # what the filter does anyway; libseccomp refuses such a rule
            number = lib.seccomp_syscall_resolve_name(name.encode())
            if number == -1:
                # A call this libseccomp (or this architecture) does not know: runc skips it, so
                # one profile serves old and new kernels alike.
                self.skipped.append(name)
                continue
            for group in groups:
                array = (_ArgCmp * len(group))(*group)
                self._check(lib.seccomp_rule_add_array(self._ctx, action, number, len(group), array),
                            "seccomp_rule_add_array", name, rule.action)
            if rule.action == "SCMP_ACT_ALLOW":
                self.allowed.add(name)

    @staticmethod
    def _check(result: int, call: str, *args) -> None:
        if result < 0:
            raise SyscallError(call, args, -result)

    def summary(self) -> dict:
        """What the trace shows when the filter is loaded."""
        return {"profile": self.name, "default_action": self.default_action, "allowed": len(self.allowed)}

    def load(self) -> None:
        """Install the filter in the calling thread, for good: every later call, and every child's, goes through it.

        Preconditions (seccomp(2)): no_new_privs set, or CAP_SYS_ADMIN in the
        effective set -- else EACCES.  Everything the process does after this
        (switching user, capset, execve) must be allowed by the profile.
        """
        self._check(_library().seccomp_load(self._ctx), "seccomp_load")  # compiles to BPF, then seccomp(2)

    def compile(self) -> "Program":
        """The BPF program libseccomp makes of the rules (the work of seccomp_load, minus the loading)."""
        memory = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
        try:
            self._check(_library().seccomp_export_bpf(self._ctx, memory), "seccomp_export_bpf")
            os.lseek(memory, 0, os.SEEK_SET)
            chunks = []
            while chunk := os.read(memory, 65536):
                chunks.append(chunk)
        finally:
            os.close(memory)
        return Program(b"".join(chunks), self.summary())

    def release(self) -> None:
        """Free libseccomp's copy (a loaded filter stays in the kernel)."""
        if self._ctx:
            _library().seccomp_release(self._ctx)
            self._ctx = None

    def __enter__(self) -> "Filter":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class Program:
    """A filter already compiled to BPF by libseccomp, to be loaded later -- by another process, typically.

    Generating the program is most of a filter's cost (about 7 ms for
    Docker's profile here, 4 more to build the rules): see :data:`_COMPILED`.
    """

    def __init__(self, bpf: bytes, summary: dict):
        self.bpf = bpf
        self._summary = summary

    def summary(self) -> dict:
        return dict(self._summary, instructions=len(self.bpf) // 8)

    def load(self) -> None:
        """prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program): what seccomp_load ends with.

        Same preconditions as :meth:`Filter.load`; the kernel checks the
        program (every jump forward, at most 4096 instructions) and installs it.
        """
        buffer = ctypes.create_string_buffer(self.bpf, len(self.bpf))
        program = _SockFprog(len(self.bpf) // 8, ctypes.addressof(buffer))
        libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(program))

    def release(self) -> None:
        pass


def prepare(setting: str, capability_mask: int) -> Filter | Program | None:
    """The filter for ``Process.seccomp`` ("default", "unconfined" or a profile's JSON text), ready to load."""
    if setting == UNCONFINED:
        return None
    if (setting, capability_mask) in _COMPILED:
        return _COMPILED[(setting, capability_mask)]
    if setting == DEFAULT:
        profile, name = DEFAULT_PROFILE, DEFAULT
    else:
        profile, name = parse(setting), "custom"
    resolved = resolve(profile, capability_mask)
    return Filter(resolved, name) if resolved is not None else None


def pinned(setting: str, capability_mask: int) -> str:
    """The profile resolved for ``capability_mask``, as a profile's JSON text that no capability set changes.

    For ``docker exec --privileged``: runc applies the *container's* filter to
    an exec'd process, whatever capabilities the exec itself is given.
    """
    if setting == UNCONFINED:
        return setting
    resolved = resolve(DEFAULT_PROFILE if setting == DEFAULT else parse(setting), capability_mask)
    if resolved is None:
        return UNCONFINED
    return json.dumps({
        "defaultAction": resolved.default_action, "defaultErrnoRet": resolved.default_errno_ret,
        "architectures": resolved.architectures,
        "syscalls": [{"names": r.names, "action": r.action, "errnoRet": r.errno_ret, "args": r.args} for r in resolved.rules],
    })


def check(text: str, capability_mask: int) -> None:
    """Raise :class:`ProfileError` unless the profile in ``text`` (JSON) would load: everything but the load itself."""
    try:
        resolved = resolve(parse(text), capability_mask)
        built = Filter(resolved, "custom") if resolved is not None else None
    except SyscallError as e:
        raise ProfileError(str(e), from_runtime=True) from None
    if built is not None:
        built.release()


#: Docker's default profile for Docker's default capabilities -- nearly every container -- compiled
#: once, when this module is imported: in the spawner, before it forks any container, so that each
#: container's process finds the program ready instead of spending ~11 ms making it (crun keeps a
#: cache of compiled filters for the same reason).  Anything else is compiled by the container's process.
_COMPILED: dict[tuple[str, int], Program] = {}
if _lib is not None:
    _docker_default = capabilities.to_mask(capabilities.DOCKER_DEFAULT)
    try:
        with Filter(resolve(DEFAULT_PROFILE, _docker_default), DEFAULT) as _filter:
            _COMPILED[(DEFAULT, _docker_default)] = _filter.compile()
    except (ProfileError, OSError):
        pass  # each container then compiles its own, and reports what fails
