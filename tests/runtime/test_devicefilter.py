"""The cgroup v2 device filter: the allow-list compiled to eBPF, checked in Python and on the kernel.

The pure tests run the compiled bytes through a small interpreter written
here, independently of the assembler, and compare its verdicts with what
the rules say.  The root tests load the program into the real kernel and
watch a process in the cgroup being allowed /dev/null and refused a disk.
"""

import ctypes
import errno
import glob
import json
import os
import secrets
import stat
import struct
import sys
import time

import pytest

from nbdock.kernel import libc
from nbdock.runtime import devices
from nbdock.runtime.cgroups import CgroupError, Resources, devicefilter
from nbdock.runtime.cgroups.devicefilter import (
    BPF_DEVCG_ACC_MKNOD as MKNOD,
    BPF_DEVCG_ACC_READ as READ,
    BPF_DEVCG_ACC_WRITE as WRITE,
    BPF_DEVCG_DEV_BLOCK as BLOCK,
    BPF_DEVCG_DEV_CHAR as CHAR,
)
from nbdock.runtime.cgroups.v2 import CgroupV2
from nbdock.runtime.kernel import LINUX, TracingKernel
from nbdock.runtime.trace import Trace, read_trace

little_endian_only = pytest.mark.skipif(sys.byteorder != "little", reason="host: the expected bytes are written little-endian")


# ---------------------------------------------------------------------------
# An interpreter of the instructions the filter uses, written from the eBPF
# specification rather than from the assembler, so that it checks the bytes.


def run_filter(bytecode: bytes, dev_type: int, major: int, minor: int, access: int) -> int:
    """Run a device filter on one question, as the kernel would; returns r0 at exit."""
    ctx = struct.pack("<III", (access << 16) | dev_type, major, minor)
    regs: list[int | None] = [None] * 11  # None: never written (the verifier would refuse a read)
    regs[1] = "ctx"
    u32 = 0xFFFFFFFF
    pc = 0
    insns = [struct.unpack("<BBhi", bytecode[i:i + 8]) for i in range(0, len(bytecode), 8)]
    while True:
        code, regs_byte, off, imm = insns[pc]
        dst, src = regs_byte & 0x0F, regs_byte >> 4
        pc += 1
        if code == 0x61:  # ldxw: dst = *(u32 *)(src + off), src must be the context
            assert regs[src] == "ctx" and off in (0, 4, 8), f"bad context access at {pc - 1}"
            regs[dst] = struct.unpack_from("<I", ctx, off)[0]
        elif code == 0x54:  # and32 imm
            regs[dst] = (regs[dst] & imm) & u32
        elif code == 0x74:  # rsh32 imm
            regs[dst] = (regs[dst] & u32) >> imm
        elif code == 0xB4:  # mov32 imm
            regs[dst] = imm & u32
        elif code == 0xBC:  # mov32 reg
            assert regs[src] is not None, f"r{src} read before written at {pc - 1}"
            regs[dst] = regs[src] & u32
        elif code == 0x55:  # jne imm: 64-bit compare with the sign-extended imm
            assert regs[dst] is not None, f"r{dst} read before written at {pc - 1}"
            assert off >= 0, "backward jump"
            if regs[dst] != imm & 0xFFFFFFFFFFFFFFFF:
                pc += off
        elif code == 0x95:  # exit
            return regs[0]
        else:
            raise AssertionError(f"unexpected instruction {code:#04x} at {pc - 1}")


def allowed_by_rules(rules, dev_type: int, major: int, minor: int, access: int) -> bool:
    """What cgroup v1's devices.allow means: some rule covers the type, both numbers and every access bit."""
    letters = {MKNOD: "m", READ: "r", WRITE: "w"}
    wanted = {letter for bit, letter in letters.items() if access & bit}
    for rule in rules:
        if rule.type not in ("a", {BLOCK: "b", CHAR: "c"}[dev_type]):
            continue
        if rule.major not in (None, major) or rule.minor not in (None, minor):
            continue
        if wanted <= set(rule.access):
            return True
    return False


DEFAULT = devicefilter.compile_rules()

# (type, major, minor, access, allowed?) -- what a container may and may not do.
CASES = [
    (CHAR, 1, 3, READ, True),  # /dev/null
    (CHAR, 1, 3, READ | WRITE, True),
    (CHAR, 1, 3, MKNOD, True),
    (CHAR, 1, 9, READ, True),  # /dev/urandom
    (CHAR, 5, 2, READ | WRITE, True),  # /dev/ptmx
    (CHAR, 136, 0, READ | WRITE, True),  # /dev/pts/0
    (CHAR, 136, 4095, READ, True),  # any pts
    (CHAR, 10, 200, READ | WRITE, True),  # /dev/net/tun
    (CHAR, 1, 11, READ, False),  # /dev/kmsg: the host's kernel log
    (CHAR, 1, 11, MKNOD, True),  # ...which may still be made ("c *:* m")
    (CHAR, 1, 11, MKNOD | READ, False),
    (CHAR, 1, 1, READ, False),  # /dev/mem
    (CHAR, 4, 0, WRITE, False),  # /dev/tty0
    (CHAR, 5, 3, READ, False),  # 5:0..2 only
    (CHAR, 10, 229, READ | WRITE, False),  # /dev/fuse is not in the list
    (BLOCK, 8, 0, READ, False),  # /dev/sda
    (BLOCK, 8, 0, WRITE, False),
    (BLOCK, 8, 0, MKNOD, True),  # "b *:* m"
    (BLOCK, 254, 0, READ | WRITE, False),  # /dev/vda
    (BLOCK, 1, 3, READ, False),  # null's numbers, but a block device
    (BLOCK, 136, 1, READ, False),
]


@pytest.mark.parametrize("dev_type, major, minor, access, allowed", CASES)
def test_the_default_filter_allows_the_container_devices_and_nothing_else(dev_type, major, minor, access, allowed):
    assert run_filter(DEFAULT.bytecode(), dev_type, major, minor, access) == int(allowed)


def test_the_filter_agrees_with_the_rules_on_every_question_of_a_grid():
    majors = (0, 1, 4, 5, 8, 10, 136, 254, 4095)
    minors = (0, 1, 2, 3, 5, 7, 8, 9, 11, 200, 1048575)
    for dev_type in (BLOCK, CHAR):
        for major in majors:
            for minor in minors:
                for access in range(1, 8):  # every non-empty combination of m, r, w
                    expected = allowed_by_rules(devices.ALLOW_RULES, dev_type, major, minor, access)
                    got = run_filter(DEFAULT.bytecode(), dev_type, major, minor, access)
                    assert got == int(expected), (dev_type, major, minor, access)


def test_every_node_of_the_container_dev_can_be_made_read_and_written():
    for device in devices.DEFAULT_DEVICES:
        for access in (MKNOD, READ, WRITE, READ | WRITE):
            assert run_filter(DEFAULT.bytecode(), CHAR, device.major, device.minor, access) == 1, device


@pytest.mark.parametrize("rules, question, allowed", [
    (["b 8:* r"], (BLOCK, 8, 17, READ), True),
    (["b 8:* r"], (BLOCK, 8, 17, WRITE), False),
    (["b 8:* r"], (CHAR, 8, 17, READ), False),
    (["c *:5 rw"], (CHAR, 42, 5, READ | WRITE), True),
    (["c *:5 rw"], (CHAR, 42, 6, READ), False),
    (["c *:5 rw"], (CHAR, 42, 5, MKNOD), False),
    (["a *:* m"], (BLOCK, 3, 3, MKNOD), True),
    (["a *:* m"], (CHAR, 3, 3, READ), False),
    (["a 1:3 rwm"], (BLOCK, 1, 3, READ), True),
    ([], (CHAR, 1, 3, READ), False),
])
def test_each_part_of_a_rule_is_tested(rules, question, allowed):
    assert run_filter(devicefilter.compile_rules(rules).bytecode(), *question) == int(allowed)


def test_an_allow_everything_rule_ends_the_program():
    program = devicefilter.compile_rules(["c 1:3 rwm", "a", "b 8:0 r"])
    assert len(program.instructions) == 6 + 5 + 2  # prologue, the first rule, then "r0 = 1; exit"
    assert str(program.instructions[-1]) == "exit" and str(program.instructions[-2]) == "w0 = 1"
    assert run_filter(program.bytecode(), BLOCK, 8, 0, READ | WRITE) == 1


def test_an_empty_list_denies_everything():
    program = devicefilter.compile_rules([])
    assert [str(i) for i in program.instructions[-2:]] == ["w0 = 0", "exit"]
    assert run_filter(program.bytecode(), CHAR, 1, 3, READ) == 0


def test_every_jump_lands_forward_inside_the_program_and_it_ends_in_exit():
    code = DEFAULT.bytecode()
    assert len(code) == 8 * len(DEFAULT.instructions)
    for index, insn in enumerate(DEFAULT.instructions):
        if insn.code == 0x55:
            assert 0 <= insn.off and index + 1 + insn.off < len(DEFAULT.instructions)
    assert str(DEFAULT.instructions[-1]) == "exit"
    assert DEFAULT.rules == devices.ALLOW_RULES


@little_endian_only
def test_instructions_encode_as_struct_bpf_insn():
    d = devicefilter
    assert d.load_u32(2, 1, 4).encode() == bytes.fromhex("6112040000000000")  # r2 = *(u32 *)(r1 +4)
    assert d.and32(2, 0xFFFF).encode() == bytes.fromhex("54020000ffff0000")
    assert d.and32(6, ~1).encode() == bytes.fromhex("54060000feffffff")  # imm is signed: -2
    assert d.rsh32(3, 16).encode() == bytes.fromhex("7403000010000000")
    assert d.mov32_reg(6, 3).encode() == bytes.fromhex("bc36000000000000")  # src in the high nibble
    assert d.mov32(0, 1).encode() == bytes.fromhex("b400000001000000")
    assert d.jne(4, 136, 3).encode() == bytes.fromhex("5504030088000000")
    assert d.exit_().encode() == bytes.fromhex("9500000000000000")


def test_the_listing_reads_like_the_verifier_log():
    listing = DEFAULT.listing().splitlines()
    assert listing[0] == "  0: r2 = *(u32 *)(r1 +0)"
    assert listing[3] == "  3: w3 >>= 16"
    assert "if r4 != 136 goto pc+2" in DEFAULT.listing()


def test_rules_parse_and_print_back_in_devices_allow_syntax():
    assert [str(rule) for rule in devices.ALLOW_RULES] == list(devices.CGROUP_ALLOW_RULES)
    assert devices.parse_rule("c 136:* wr") == devices.DeviceRule("c", 136, None, "rw")
    assert devices.parse_rule("a") == devices.DeviceRule("a", None, None, "rwm")
    assert str(devices.parse_rule("a *:* rwm")) == "a"


@pytest.mark.parametrize("text", ["x 1:3 rwm", "c 1 rwm", "c 1:3", "c 1:3 rwx", "c 1:3 rr", "c -1:3 r",
                                  "c 4096:0 r", "c 1:1048576 r", "c 1:3 ", "c one:3 r"])
def test_a_malformed_rule_is_refused_with_its_text(text):
    with pytest.raises(ValueError, match="device rule"):
        devices.parse_rule(text)


# ---------------------------------------------------------------------------
# On the real kernel: this host's v2 hierarchy (at /sys/fs/cgroup/unified on a hybrid host).


def _block_device(scratch_dir):
    """(name, major, minor) of a block device of this host that this process can open, disks first.

    Some hosts refuse even root the open of their system disk (this VM does, for
    reasons outside any cgroup), so each candidate is tried on a node of our own.
    """
    candidates = []
    for path in glob.glob("/sys/block/*/dev"):
        name = path.split("/")[3]
        major, minor = map(int, open(path).read().split(":"))
        candidates.append((name.startswith(("loop", "ram", "zram")), name, major, minor))
    for _, name, major, minor in sorted(candidates):
        probe = os.path.join(scratch_dir, "probe-" + name)
        os.mknod(probe, stat.S_IFBLK | 0o600, os.makedev(major, minor))
        try:
            if _try(lambda: os.open(probe, os.O_RDONLY | os.O_NONBLOCK)) == "ok":
                return name, major, minor
        finally:
            os.unlink(probe)
    pytest.fail("this host has no block device that root can open")


class _ProgQueryAttr(ctypes.Structure):
    _fields_ = [("target_fd", ctypes.c_uint32), ("attach_type", ctypes.c_uint32), ("query_flags", ctypes.c_uint32),
                ("attach_flags", ctypes.c_uint32), ("prog_ids", ctypes.c_uint64), ("prog_cnt", ctypes.c_uint32)]


class _GetFdByIdAttr(ctypes.Structure):
    _fields_ = [("prog_id", ctypes.c_uint32), ("next_id", ctypes.c_uint32), ("open_flags", ctypes.c_uint32)]


BPF_PROG_GET_FD_BY_ID, BPF_PROG_QUERY = 13, 16


def attached_device_programs(cgroup_dir: str) -> list[int]:
    """Ids of the device programs attached to a cgroup (what ``bpftool cgroup show`` lists)."""
    ids = (ctypes.c_uint32 * 16)()
    fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        attr = _ProgQueryAttr(target_fd=fd, attach_type=libc.BPF_CGROUP_DEVICE, prog_ids=ctypes.addressof(ids), prog_cnt=16)
        assert libc._bpf(BPF_PROG_QUERY, attr) == 0, os.strerror(ctypes.get_errno())
        return list(ids[:attr.prog_cnt])
    finally:
        os.close(fd)


def program_exists(prog_id: int) -> bool:
    fd = libc._bpf(BPF_PROG_GET_FD_BY_ID, _GetFdByIdAttr(prog_id=prog_id))
    if fd >= 0:
        os.close(fd)
        return True
    assert ctypes.get_errno() == errno.ENOENT
    return False


def _try(call) -> str:
    try:
        result = call()
        if isinstance(result, int):
            os.close(result)
        return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]


@pytest.fixture
def cgroup_v2(v2_root):
    cgroup = CgroupV2("devfilter-" + secrets.token_hex(8), root=v2_root)
    yield cgroup
    cgroup.destroy()


@pytest.mark.root
def test_the_kernel_verifier_accepts_every_shape_of_program():
    for rules in ([], ["a"], ["c 1:3 rwm", "a", "b 8:0 r"], ["a *:* m"], ["b 8:* r", "c *:5 w"], devices.CGROUP_ALLOW_RULES):
        program = devicefilter.compile_rules(rules)
        fd = libc.bpf_prog_load(libc.BPF_PROG_TYPE_CGROUP_DEVICE, program.bytecode(), devicefilter.LICENSE, program.name)
        os.close(fd)


@pytest.mark.root
def test_a_process_in_the_cgroup_opens_null_but_not_kmsg_or_a_disk(cgroup_v2, tmp_path):
    trace_path = tmp_path / "trace.jsonl"
    cgroup_v2.kernel = TracingKernel(LINUX, Trace(str(trace_path)))  # the bpf_attach event is the kernel's
    disk_name, disk_major, disk_minor = _block_device(str(tmp_path))
    nodes = {  # name: (mknod mode, major, minor)
        "null": (stat.S_IFCHR, 1, 3),
        "kmsg": (stat.S_IFCHR, 1, 11),
        disk_name: (stat.S_IFBLK, disk_major, disk_minor),
    }
    nodes_dir = tmp_path / "nodes"
    nodes_dir.mkdir()
    cgroup_v2.create(Resources())

    attached = attached_device_programs(cgroup_v2.path)
    assert len(attached) == 1
    events = [e for e in read_trace(str(trace_path)) if e["op"] == "bpf_attach"]
    assert events and events[0]["args"]["program"] == "nbdock_devices"
    assert events[0]["args"]["rules"] == len(devices.ALLOW_RULES)

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: join the cgroup, then make and open the nodes from inside it
        results = {}
        try:
            os.close(read_end)
            with open(cgroup_v2.procs_files()[0], "w") as f:
                f.write(str(os.getpid()))
            for name, (kind, major, minor) in nodes.items():
                path = str(nodes_dir / name)
                results[name] = {
                    "mknod": _try(lambda: os.mknod(path, kind | 0o600, os.makedev(major, minor))),
                    "open": _try(lambda: os.open(path, os.O_RDONLY | os.O_NONBLOCK)),
                }
            results["null"]["open_rw"] = _try(lambda: os.open(str(nodes_dir / "null"), os.O_RDWR))
            os.write(write_end, json.dumps(results).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as f:
        results = json.loads(f.read() or "{}")
    os.waitpid(pid, 0)

    assert results == {
        "null": {"mknod": "ok", "open": "ok", "open_rw": "ok"},
        "kmsg": {"mknod": "ok", "open": "EPERM"},
        disk_name: {"mknod": "ok", "open": "EPERM"},  # "b *:* m" lets it make the node, not open it
    }
    # Outside the cgroup the same nodes open: the refusals above were the filter's.
    for name in nodes:
        assert _try(lambda: os.open(str(nodes_dir / name), os.O_RDONLY | os.O_NONBLOCK)) == "ok", name
        os.unlink(nodes_dir / name)

    cgroup_v2.destroy()
    assert not cgroup_v2.exists()
    # rmdir detached the program, and with its last reference gone the kernel freed it
    # (asynchronously, once the cgroup itself is released).
    for _ in range(100):
        if not program_exists(attached[0]):
            break
        time.sleep(0.05)
    assert not program_exists(attached[0])


@pytest.mark.root
def test_a_filter_the_kernel_refuses_fails_the_create_and_leaves_no_cgroup(cgroup_v2, monkeypatch):
    # No exit at the end: the verifier rejects it, as it would a buggy compiler's output.
    unverifiable = devicefilter.Program((devicefilter.mov32(0, 1),), ())
    monkeypatch.setattr(devicefilter, "compile_rules", lambda *args: unverifiable)
    with pytest.raises(CgroupError) as refused:
        cgroup_v2.create(Resources())
    message = str(refused.value)
    assert "cannot guard the devices of " + cgroup_v2.path in message
    assert "bpf(BPF_PROG_LOAD" in message and "the verifier said" in message
    assert not cgroup_v2.exists()


@pytest.mark.root
def test_attaching_to_a_directory_that_is_no_v2_cgroup_names_the_call_and_the_reason(tmp_path):
    with pytest.raises(CgroupError, match=r"bpf\(BPF_PROG_ATTACH.*Bad file descriptor.*cgroup v2"):
        devicefilter.attach(str(tmp_path), devicefilter.compile_rules())
