"""The device allow-list on cgroup v2: a small eBPF program, assembled here.

cgroup v1 has a ``devices`` controller: write rules to ``devices.allow`` and
the kernel checks them.  cgroup v2 has no such controller.  Instead, every
time a process mknods or opens a device node, the kernel looks at the
process's v2 cgroup and runs each eBPF program of type
BPF_PROG_TYPE_CGROUP_DEVICE attached there (and at its ancestors) with the
question as its only argument (include/uapi/linux/bpf.h)::

    struct bpf_cgroup_dev_ctx {
        __u32 access_type;   /* (access << 16) | type */
        __u32 major;
        __u32 minor;
    };

    type:   BPF_DEVCG_DEV_BLOCK 1, BPF_DEVCG_DEV_CHAR 2
    access: BPF_DEVCG_ACC_MKNOD 1, BPF_DEVCG_ACC_READ 2, BPF_DEVCG_ACC_WRITE 4
            (an open for reading and writing asks for READ|WRITE at once)

A program that returns 1 allows the access; 0 makes the system call fail
with EPERM.  So a runtime on v2 turns its allow-list into a program --
Docker's runc does exactly that -- and this module does it for nbdock's list
(devices.ALLOW_RULES) with a tiny assembler of its own.  The program has the
shape runc's has::

    r2 = ctx->access_type & 0xffff        ; prologue: unpack the question
    r3 = ctx->access_type >> 16             into registers r2..r5
    r4 = ctx->major
    r5 = ctx->minor
    ; one block per rule, "c 136:* rw" say:
    if r2 != 2 goto next_rule             ; the type (skipped for "a")
    r6 = r3 & ~(READ|WRITE)               ; asked for anything the rule does
    if r6 != 0 goto next_rule               not grant? (skipped for "rwm")
    if r4 != 136 goto next_rule           ; the major (skipped for "*")
    r0 = 1                                ; every test passed: allow
    exit
  next_rule:
    ...
    r0 = 0                                ; no rule matched: deny
    exit

Before the program runs even once, the kernel's verifier proves it safe:
it only reads the context, every path ends in ``exit`` with r0 0 or 1, and
there are no loops (all jumps go forward).  Only then is it attached.

On a hybrid host (v1 controllers plus a v2 tree at /sys/fs/cgroup/unified)
the kernel asks both: first the programs of the process's v2 cgroup, then
the v1 devices controller; an access needs the consent of each.

eBPF in one paragraph: eleven 64-bit registers r0..r10 (r1 holds the
context pointer on entry, r0 the return value at ``exit``); each instruction
is 8 bytes, ``struct bpf_insn {u8 code; u8 dst_reg:4, src_reg:4; s16 off;
s32 imm;}``; ``code`` packs the instruction class (load, ALU, jump...), the
operation and whether the operand is ``imm`` (BPF_K) or ``src_reg`` (BPF_X).
A jump's ``off`` counts instructions from the one *after* the jump.
"""

from __future__ import annotations

import errno
import struct
import sys
from dataclasses import dataclass, replace
from typing import Iterable

from ...kernel import libc
from .. import devices
from ..devices import DeviceRule
from ..kernel import LINUX, Kernel
from . import CgroupError

# --- include/uapi/linux/bpf.h: the question a BPF_PROG_TYPE_CGROUP_DEVICE program answers
BPF_DEVCG_DEV_BLOCK = 1
BPF_DEVCG_DEV_CHAR = 2
BPF_DEVCG_ACC_MKNOD = 1
BPF_DEVCG_ACC_READ = 2
BPF_DEVCG_ACC_WRITE = 4

#: offsetof(struct bpf_cgroup_dev_ctx, ...): three u32 fields, in this order.
CTX_ACCESS_TYPE, CTX_MAJOR, CTX_MINOR = 0, 4, 8

DEVICE_TYPES = {"b": BPF_DEVCG_DEV_BLOCK, "c": BPF_DEVCG_DEV_CHAR}
ACCESS_BITS = {"m": BPF_DEVCG_ACC_MKNOD, "r": BPF_DEVCG_ACC_READ, "w": BPF_DEVCG_ACC_WRITE}
ALL_ACCESS = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE

#: The name the program shows under (``bpftool cgroup tree``): at most 15 characters.
PROGRAM_NAME = "nbdock_devices"
#: What runc passes.  The license only matters to programs calling GPL-only kernel
#: helpers; this one calls no helper at all, so it need not claim to be GPL.
LICENSE = "Apache"

# --- include/uapi/linux/bpf_common.h and bpf.h: the parts of an instruction's ``code`` byte
# instruction class (low 3 bits)
BPF_LDX = 0x01  # load into a register from memory
BPF_ALU = 0x04  # 32-bit arithmetic: the upper half of the destination register becomes 0
BPF_JMP = 0x05  # jumps, comparing all 64 bits (imm is sign-extended)
# memory access: size and mode (for BPF_LDX)
BPF_W = 0x00  # a 32-bit word, zero-extended into the register
BPF_MEM = 0x60
# operand source (for BPF_ALU and BPF_JMP)
BPF_K = 0x00  # the 32-bit immediate ``imm``
BPF_X = 0x08  # the register ``src_reg``
# operations (high 4 bits)
BPF_AND = 0x50
BPF_RSH = 0x70
BPF_MOV = 0xB0
BPF_JNE = 0x50
BPF_EXIT = 0x90

# Registers, named by what this program keeps in them.
R0_RESULT = 0  # the return value at exit: 1 allow, 0 deny
R1_CTX = 1  # on entry: a pointer to struct bpf_cgroup_dev_ctx
R2_TYPE = 2
R3_ACCESS = 3
R4_MAJOR = 4
R5_MINOR = 5
R6_SCRATCH = 6


@dataclass(frozen=True)
class Insn:
    """One eBPF instruction, the fields of ``struct bpf_insn``."""

    code: int
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0

    def encode(self) -> bytes:
        """The 8 bytes of ``struct bpf_insn`` in the host's byte order, which is the order the kernel reads."""
        # dst_reg and src_reg are C bit-fields sharing one byte; C puts the first
        # field in the low bits on little-endian machines and the high bits on big-endian ones.
        if sys.byteorder == "little":
            regs = (self.src << 4) | self.dst
        else:
            regs = (self.dst << 4) | self.src
        return struct.pack("=BBhi", self.code, regs, self.off, self.imm)

    def __str__(self) -> str:
        """The instruction in the notation of the kernel's verifier log ("w2 &= 65535", "if r2 != 2 goto pc+3"),
        except that numbers are decimal."""
        op, cls = self.code & 0xF0, self.code & 0x07
        if self.code == BPF_LDX | BPF_W | BPF_MEM:
            return f"r{self.dst} = *(u32 *)(r{self.src} {'+' if self.off >= 0 else '-'}{abs(self.off)})"
        if cls == BPF_ALU:
            symbol = {BPF_AND: "&=", BPF_RSH: ">>=", BPF_MOV: "="}[op]
            operand = f"w{self.src}" if self.code & BPF_X else str(self.imm)
            return f"w{self.dst} {symbol} {operand}"
        if self.code == BPF_JMP | BPF_JNE | BPF_K:
            return f"if r{self.dst} != {self.imm} goto pc{self.off:+d}"
        if self.code == BPF_JMP | BPF_EXIT:
            return "exit"
        return f"code={self.code:#04x} dst=r{self.dst} src=r{self.src} off={self.off} imm={self.imm}"


# ---------------------------------------------------------------------------
# The assembler: one function per instruction this program needs


def load_u32(dst: int, base: int, offset: int) -> Insn:
    """dst = *(u32 *)(base + offset); here always a field of the context."""
    return Insn(BPF_LDX | BPF_W | BPF_MEM, dst, base, offset)


def and32(dst: int, imm: int) -> Insn:
    """dst = (u32)dst & imm."""
    return Insn(BPF_ALU | BPF_AND | BPF_K, dst, imm=_s32(imm))


def rsh32(dst: int, imm: int) -> Insn:
    """dst = (u32)dst >> imm (a logical shift: zeros come in from the left)."""
    return Insn(BPF_ALU | BPF_RSH | BPF_K, dst, imm=imm)


def mov32(dst: int, imm: int) -> Insn:
    """dst = imm."""
    return Insn(BPF_ALU | BPF_MOV | BPF_K, dst, imm=_s32(imm))


def mov32_reg(dst: int, src: int) -> Insn:
    """dst = (u32)src."""
    return Insn(BPF_ALU | BPF_MOV | BPF_X, dst, src)


def jne(dst: int, imm: int, off: int = 0) -> Insn:
    """if dst != imm: skip the next ``off`` instructions."""
    return Insn(BPF_JMP | BPF_JNE | BPF_K, dst, off=off, imm=_s32(imm))


def exit_() -> Insn:
    """Return r0 to the kernel."""
    return Insn(BPF_JMP | BPF_EXIT)


def _s32(value: int) -> int:
    """``imm`` is a signed 32-bit field: 0xfffffffc is stored as -4 (the same 32 bits)."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


# ---------------------------------------------------------------------------
# The compiler: allow rules -> a default-deny program


@dataclass(frozen=True)
class Program:
    """A compiled device filter: its instructions and the rules they encode."""

    instructions: tuple[Insn, ...]
    rules: tuple[DeviceRule, ...]
    name: str = PROGRAM_NAME

    def bytecode(self) -> bytes:
        """What BPF_PROG_LOAD is given: the instructions, 8 bytes each."""
        return b"".join(insn.encode() for insn in self.instructions)

    def listing(self) -> str:
        """One numbered line per instruction, in the verifier's notation."""
        return "\n".join(f"{i:3}: {insn}" for i, insn in enumerate(self.instructions))


def compile_rules(rules: Iterable[str | DeviceRule] = devices.ALLOW_RULES) -> Program:
    """Compile allow rules ("c 1:3 rwm", "b *:* m", or parsed DeviceRules) into a device filter.

    The program allows an access if any rule allows it and denies everything
    else.  Rules are tested in order; a rule that allows everything ("a",
    "a *:* rwm") ends the program there, since the kernel's verifier refuses
    a program with instructions that can never run.
    """
    parsed = tuple(rule if isinstance(rule, DeviceRule) else devices.parse_rule(rule) for rule in rules)
    instructions = [
        # The context is read before anything else and never again: r1 becomes free.
        load_u32(R2_TYPE, R1_CTX, CTX_ACCESS_TYPE),
        and32(R2_TYPE, 0xFFFF),
        load_u32(R3_ACCESS, R1_CTX, CTX_ACCESS_TYPE),
        rsh32(R3_ACCESS, 16),
        load_u32(R4_MAJOR, R1_CTX, CTX_MAJOR),
        load_u32(R5_MINOR, R1_CTX, CTX_MINOR),
    ]
    for rule in parsed:
        block = _rule_block(rule)
        instructions += block
        if len(block) == 2:  # no test at all: "r0 = 1; exit", anything after it would be unreachable
            break
    else:
        instructions += [mov32(R0_RESULT, 0), exit_()]  # default deny
    return Program(tuple(instructions), parsed)


def _rule_block(rule: DeviceRule) -> list[Insn]:
    """The instructions of one rule: tests that jump to the next rule on a mismatch, then "allow"."""
    tests: list[Insn] = []
    if rule.type != "a":
        tests.append(jne(R2_TYPE, DEVICE_TYPES[rule.type]))
    granted = sum(ACCESS_BITS[c] for c in rule.access)
    if granted != ALL_ACCESS:
        # Allowed only if the access asked for is a subset of the granted one: "rw" covers
        # an open for reading, but "m" alone does not.  So: no bit outside ``granted``.
        tests += [mov32_reg(R6_SCRATCH, R3_ACCESS), and32(R6_SCRATCH, ~granted), jne(R6_SCRATCH, 0)]
    if rule.major is not None:
        tests.append(jne(R4_MAJOR, rule.major))
    if rule.minor is not None:
        tests.append(jne(R5_MINOR, rule.minor))
    block = tests + [mov32(R0_RESULT, 1), exit_()]
    # Every jump of the block goes to the first instruction after it: the next rule.
    return [replace(insn, off=len(block) - i - 1) if insn.code == BPF_JMP | BPF_JNE | BPF_K else insn
            for i, insn in enumerate(block)]


# ---------------------------------------------------------------------------
# Loading and attaching


def attach(cgroup_dir: str, program: Program, kernel: Kernel = LINUX) -> None:
    """Load ``program`` into the kernel and attach it to the v2 cgroup ``cgroup_dir``.

    Call it before any process joins the cgroup: from then on every mknod
    and open of a device node by a member is checked by the program.

    Preconditions: root (CAP_SYS_ADMIN, or CAP_BPF and CAP_NET_ADMIN) in the
    initial user namespace; a kernel with CONFIG_CGROUP_BPF (Linux 4.15+);
    ``cgroup_dir`` a directory of the cgroup2 file system.  Any failure
    raises CgroupError naming the bpf(2) call and the kernel's reason: a
    container must not start unguarded.

    BPF_F_ALLOW_MULTI makes the program run *in addition to* any device
    program attached above (systemd attaches one for a unit with a
    DevicePolicy): an access then needs every program's consent, so nbdock
    can only narrow what the host already allows, never widen it.

    The program's descriptor is closed once it is attached: the attachment
    keeps the program alive, and removing the cgroup (rmdir) detaches and
    frees it.  Nothing is left to clean up.
    """
    try:
        kernel.attach_device_program(cgroup_dir, program.bytecode(), program.name, LICENSE, rules=len(program.rules))
    except libc.SyscallError as e:
        raise CgroupError(e.errno, f"cannot guard the devices of {cgroup_dir}: {e}{_hint(e)}") from None
    except OSError as e:
        raise CgroupError(e.errno, f"opening {cgroup_dir} to attach the device filter: {e.strerror}") from None


def _hint(error: libc.SyscallError) -> str:
    """What usually causes each error, for the message a user sees."""
    if getattr(error, "verifier_log", ""):
        return ""  # the verifier has said what is wrong with the program itself
    hints = {
        errno.EPERM: "needs root in the initial user namespace (CAP_SYS_ADMIN, or CAP_BPF and CAP_NET_ADMIN);"
                     " or a parent cgroup holds a device program attached without BPF_F_ALLOW_MULTI",
        errno.EINVAL: "is the kernel built with CONFIG_CGROUP_BPF?",
        errno.ENOSYS: "the kernel is built without the bpf(2) system call (CONFIG_BPF_SYSCALL)",
        errno.EBADF: "device programs attach only to cgroup v2 directories",
    }
    return f" ({hints[error.errno]})" if error.errno in hints else ""


__all__ = ["Insn", "Program", "compile_rules", "attach", "PROGRAM_NAME", "LICENSE"]
