"""Seccomp: Docker's default profile interpreted (no root needed), then loaded for real in containers."""

import json
import os
import shutil
import subprocess
import threading

import pytest

from nbdock.runtime import capabilities, seccomp
from nbdock.runtime.container import Stdio
from nbdock.runtime.spec import ExecSpec, Process
from nbdock.runtime.trace import read_trace

DOCKER_CAPS = capabilities.to_mask(capabilities.DOCKER_DEFAULT)

def _bounding_set() -> int:
    with open("/proc/self/status") as f:
        return int(next(line for line in f if line.startswith("CapBnd:")).split()[1], 16)


ALL_CAPS = _bounding_set()  # every capability this host lets us give (a VM may hold some back)
CLONE_NEW_FLAGS = 0x7E020000  # every CLONE_NEW* flag: NS, CGROUP, UTS, IPC, USER, PID, NET


def rules_for(name, resolved):
    return [rule for rule in resolved.rules if name in rule.names]


def allowed(resolved):
    return {name for rule in resolved.rules if rule.action == "SCMP_ACT_ALLOW" for name in rule.names}


# --- the profile's interpretation: pure, no root ------------------------------------------------


def test_the_default_profile_is_docker_s_allow_list_with_eperm_for_the_rest():
    resolved = seccomp.resolve(seccomp.DEFAULT_PROFILE, DOCKER_CAPS, arch="amd64", kernel=(6, 18))
    assert resolved.default_action == "SCMP_ACT_ERRNO" and resolved.default_errno_ret is None  # EPERM
    assert resolved.architectures == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    names = allowed(resolved)
    assert {"read", "write", "execve", "setuid", "setgroups", "capset", "prctl", "arch_prctl", "socket"} <= names
    blocked = {"keyctl", "add_key", "request_key", "kexec_load", "open_by_handle_at", "bpf", "perf_event_open",
               "mount", "umount2", "unshare", "setns", "reboot", "init_module", "acct"}
    assert not blocked & names
    assert "ptrace" in names  # allowed from kernel 4.8 on (minKernel)
    assert "ptrace" not in allowed(seccomp.resolve(seccomp.DEFAULT_PROFILE, DOCKER_CAPS, arch="amd64", kernel=(4, 4)))


def test_clone_is_allowed_only_without_namespace_flags_unless_cap_sys_admin():
    resolved = seccomp.resolve(seccomp.DEFAULT_PROFILE, DOCKER_CAPS, arch="amd64", kernel=(6, 18))
    (clone,) = rules_for("clone", resolved)
    assert clone.args == [{"index": 0, "value": CLONE_NEW_FLAGS, "op": "SCMP_CMP_MASKED_EQ"}]  # (flags & mask) == 0
    (clone3,) = rules_for("clone3", resolved)
    assert (clone3.action, clone3.errno_ret) == ("SCMP_ACT_ERRNO", 38)  # ENOSYS: libc falls back to clone
    admin = seccomp.resolve(seccomp.DEFAULT_PROFILE, DOCKER_CAPS | capabilities.to_mask(["SYS_ADMIN"]),
                            arch="amd64", kernel=(6, 18))
    assert {"mount", "umount2", "unshare", "setns", "clone", "bpf"} <= allowed(admin)
    assert [rule.args for rule in rules_for("clone", admin)] == [[]]
    assert [rule.action for rule in rules_for("clone3", admin)] == ["SCMP_ACT_ALLOW"]
    # s390 passes clone's flags second: the other rule of the pair.
    s390 = seccomp.resolve(seccomp.DEFAULT_PROFILE, DOCKER_CAPS, arch="s390x", kernel=(6, 18))
    assert [rule.args[0]["index"] for rule in rules_for("clone", s390)] == [1]


def test_rules_follow_capabilities_and_architecture():
    def names(caps, arch="amd64"):
        return allowed(seccomp.resolve(seccomp.DEFAULT_PROFILE, caps, arch=arch, kernel=(6, 18)))

    assert "open_by_handle_at" in names(DOCKER_CAPS | capabilities.to_mask(["DAC_READ_SEARCH"]))
    assert "reboot" in names(DOCKER_CAPS | capabilities.to_mask(["SYS_BOOT"]))
    assert {"kexec_load", "keyctl", "add_key"}.isdisjoint(names(ALL_CAPS))  # never, whatever the capabilities
    assert "arch_prctl" not in names(DOCKER_CAPS, "arm64") and "set_tls" in names(DOCKER_CAPS, "arm64")
    arm = seccomp.resolve(seccomp.DEFAULT_PROFILE, DOCKER_CAPS, arch="arm64", kernel=(6, 18))
    assert arm.architectures == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]


def test_personality_is_allowed_only_for_docker_s_five_personas():
    resolved = seccomp.resolve(seccomp.DEFAULT_PROFILE, DOCKER_CAPS, arch="amd64", kernel=(6, 18))
    values = [rule.args[0]["value"] for rule in rules_for("personality", resolved)]
    assert values == [0, 8, 0x20000, 0x20008, 0xFFFFFFFF]


def test_socket_is_allowed_for_every_family_as_in_docker_20_10():
    # Docker 20.10's profile allows socket() unconditionally; Docker 25 and later allow it only below
    # AF_ALG (38), for AF_NFC (39) and above AF_VSOCK (40): see the AF_VSOCK test below.
    resolved = seccomp.resolve(seccomp.DEFAULT_PROFILE, DOCKER_CAPS, arch="amd64", kernel=(6, 18))
    socket_rules = rules_for("socket", resolved)
    assert socket_rules and all(rule.action == "SCMP_ACT_ALLOW" for rule in socket_rules)


def test_a_profile_with_no_default_action_and_no_syscalls_is_no_filter():
    assert seccomp.resolve({}, DOCKER_CAPS) is None
    assert seccomp.prepare("{}", DOCKER_CAPS) is None
    assert seccomp.prepare("unconfined", DOCKER_CAPS) is None


@pytest.mark.parametrize("text, message", [
    ("{bad", "Decoding seccomp profile failed: "),
    ('["SCMP_ACT_ALLOW"]', "Decoding seccomp profile failed: a profile is a JSON object"),
    ('{"defaultAction": 5}', "Decoding seccomp profile failed: defaultAction must be a string, not 5"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_LOG",'
     ' "excludes": {"caps": [{"CAP_SYS_ADMIN": true}]}}]}',
     "Decoding seccomp profile failed: syscalls[0].excludes.caps must be a list of strings"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"], "archMap": [{"architecture": "x"}]}',
     "'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "read", "names": ["write"], "action": "SCMP_ACT_LOG"}]}',
     "'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_LOG",'
     ' "includes": {"minKernel": "4"}}]}', 'Decoding seccomp profile failed: invalid kernel version: "4", expected "<kernel>.<major>"'),
])
def test_profiles_docker_cannot_decode_are_refused_in_its_words(text, message):
    with pytest.raises(seccomp.ProfileError) as caught:
        seccomp.check(text, DOCKER_CAPS)
    assert str(caught.value).startswith(message) and not caught.value.from_runtime


@pytest.mark.parametrize("profile, message", [
    ({"defaultAction": "SCMP_ACT_BOGUS"}, "string SCMP_ACT_BOGUS is not a valid action for seccomp"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOPE"}]},
     "string SCMP_ACT_NOPE is not a valid action for seccomp"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                                                       "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}]},
     "string SCMP_CMP_ABOUT is not a valid operator for seccomp"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]}, "string SCMP_ARCH_VAX is not a valid arch for seccomp"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [""], "action": "SCMP_ACT_ERRNO"}]},
     "empty string is not a valid syscall"),
])
def test_profiles_runc_cannot_load_are_refused_in_its_words(profile, message):
    with pytest.raises(seccomp.ProfileError) as caught:
        seccomp.check(json.dumps(profile), DOCKER_CAPS)
    assert str(caught.value) == message and caught.value.from_runtime


def test_libseccomp_builds_the_default_filter_and_skips_names_it_does_not_know():
    with seccomp.Filter(seccomp.resolve(seccomp.DEFAULT_PROFILE, DOCKER_CAPS), "default") as built:
        summary = built.summary()
        program = built.compile()
    # The same program as the one compiled at import for the spawner's containers.
    assert program.bpf == seccomp.prepare("default", DOCKER_CAPS).bpf and len(program.bpf) % 8 == 0
    assert summary["profile"] == "default" and summary["default_action"] == "SCMP_ACT_ERRNO"
    assert 300 < summary["allowed"] < 400
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "no_such_call_2026"], "action": "SCMP_ACT_ERRNO"}]}
    with seccomp.prepare(json.dumps(profile), DOCKER_CAPS) as built:
        assert built.skipped == ["no_such_call_2026"]


def test_pinned_keeps_the_container_s_rules_whatever_the_exec_s_capabilities():
    text = seccomp.pinned("default", DOCKER_CAPS)
    again = seccomp.resolve(seccomp.parse(text), ALL_CAPS)
    assert "mount" not in allowed(again) and rules_for("clone", again)[0].args
    assert seccomp.pinned("unconfined", DOCKER_CAPS) == "unconfined"


@pytest.mark.parametrize("security_opt, privileged, expected", [
    (None, False, "default"),
    (["no-new-privileges"], False, "default"),
    (["seccomp=unconfined"], False, "unconfined"),
    (["seccomp:unconfined"], False, "unconfined"),  # the old separator, still accepted by Docker 20.10
    (['seccomp={"defaultAction":"SCMP_ACT_LOG"}', "seccomp=unconfined"], False, "unconfined"),  # the last one wins
    (["seccomp=unconfined", 'seccomp={"defaultAction":"SCMP_ACT_LOG"}'], False, '{"defaultAction":"SCMP_ACT_LOG"}'),
    (["seccomp="], False, "default"),
    (['seccomp={"defaultAction":"SCMP_ACT_LOG"}'], True, "unconfined"),  # --privileged: no filter at all
])
def test_security_opt_seccomp_as_the_engine_reads_it(security_opt, privileged, expected):
    from nbdock.engine import createconfig

    host = {"SecurityOpt": security_opt, "Privileged": privileged}
    assert createconfig.seccomp_profile(host) == expected
    createconfig.check_seccomp(host)  # all of them load


def test_a_bad_profile_is_an_invalid_argument_naming_the_problem():
    from nbdock.engine import createconfig
    from nbdock.errors import InvalidArgument

    with pytest.raises(InvalidArgument, match="^Decoding seccomp profile failed: "):
        createconfig.check_seccomp({"SecurityOpt": ["seccomp=default"]})  # Docker 20.10 knows no profile so named
    # Docker relays this one from runc at start; nbdock finds it at create and keeps Docker's words,
    # with its own account as the explanation.
    with pytest.raises(InvalidArgument, match="^failed to create shim task: OCI runtime create failed: runc create failed: "
                       "string SCMP_ACT_X is not a valid action for seccomp: unknown$") as caught:
        createconfig.check_seccomp({"SecurityOpt": ['seccomp={"defaultAction":"SCMP_ACT_X"}']})
    assert "seccomp profile cannot be loaded into the kernel" in caught.value.explanation
    createconfig.check_seccomp({"SecurityOpt": ['seccomp={"defaultAction":"SCMP_ACT_X"}'], "Privileged": True})  # unused


# --- loaded for real: containers on the real kernel ---------------------------------------------

PROBE_C = r"""
/* probe NAME...: make each system call with harmless arguments; print "NAME: ok" or "NAME: ERRNONAME". */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static long call(const char *name) {
    if (!strcmp(name, "getpid")) return syscall(SYS_getpid);
    if (!strcmp(name, "keyctl")) return syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0);
    if (!strcmp(name, "add_key")) return syscall(SYS_add_key, "nbdock-no-such-type", "d", "x", 1, -3);
    if (!strcmp(name, "kexec_load")) return syscall(SYS_kexec_load, 0, 0, NULL, 0xdead0000UL);
    if (!strcmp(name, "open_by_handle_at")) return syscall(SYS_open_by_handle_at, -1, NULL, 0);
    if (!strcmp(name, "bpf")) return syscall(SYS_bpf, 0xffff, NULL, 0);
    if (!strcmp(name, "perf_event_open")) return syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0);
    if (!strcmp(name, "unshare_user")) return syscall(SYS_unshare, CLONE_NEWUSER);
    if (!strcmp(name, "clone_newns")) {  /* a child in a new mount namespace: clone's flags are filtered */
        long pid = syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, NULL, NULL, NULL, NULL);
        if (pid == 0) _exit(0);
        return pid;
    }
    if (!strcmp(name, "socket_vsock")) return syscall(SYS_socket, 40 /* AF_VSOCK */, SOCK_STREAM, 0);
    if (!strcmp(name, "socket_unix")) return syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
    if (!strcmp(name, "personality_query")) return syscall(SYS_personality, 0xffffffffUL);
    errno = ENOSYS;
    return -2;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        errno = 0;
        long result = call(argv[i]);
        if (result == -2 && errno == ENOSYS) printf("%s: unknown to probe\n", argv[i]);
        else if (result < 0) printf("%s: %s\n", argv[i], strerrorname_np(errno));
        else printf("%s: ok\n", argv[i]);
    }
    return 0;
}
"""

BLOCKED = ["keyctl", "add_key", "kexec_load", "open_by_handle_at", "bpf", "perf_event_open", "unshare_user"]


@pytest.fixture(scope="session")
def probe_layer(tmp_path_factory):
    """An image layer holding /bin/probe, a static program that makes the system calls Docker's profile blocks.

    busybox has no applet for keyctl or bpf, and the container has no
    Python: the probe is compiled here, with the host's C compiler.
    """
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        pytest.fail("these tests compile a static probe: install gcc and libc6-dev")
    layer = tmp_path_factory.mktemp("probe-layer")
    (layer / "bin").mkdir()
    source = layer.parent / "probe.c"
    source.write_text(PROBE_C)
    built = subprocess.run([compiler, "-static", "-O", "-o", str(layer / "bin" / "probe"), str(source)],
                           capture_output=True, text=True)
    if built.returncode != 0:
        pytest.fail(f"cannot build the static probe (is libc6-dev installed?):\n{built.stderr}")
    return str(layer)


def run(runtime, args, *, seccomp_setting="default", caps=None, no_new_privileges=False, layer=None, user=""):
    """Run a container of the runtime harness with these Process fields."""
    made = runtime.container

    def container(*a, **k):
        if layer:
            k["extra_lowers"] = [layer]
        built = made(*a, **k)
        built.spec.process.seccomp = seccomp_setting
        built.spec.process.no_new_privileges = no_new_privileges
        if caps is not None:
            built.spec.process.capabilities = caps
        return built

    runtime.container = container
    try:
        return runtime.run(args, user=user)
    finally:
        del runtime.container


def probe_results(output):
    return dict(line.split(": ", 1) for line in output.strip().splitlines())


@pytest.mark.root
def test_a_default_container_is_in_seccomp_filter_mode(runtime):
    result = run(runtime, ["grep", "-E", "^(Seccomp|NoNewPrivs):", "/proc/self/status"])
    # 2 is filter mode.  no_new_privs stays 0: libseccomp would set it, Docker (runc) and nbdock tell it not to.
    assert result.output.split() == ["NoNewPrivs:", "0", "Seccomp:", "2"]
    assert result.exit_code == 0


@pytest.mark.root
def test_unconfined_has_no_filter(runtime):
    result = run(runtime, ["grep", "^Seccomp:", "/proc/self/status"], seccomp_setting="unconfined")
    assert result.output.split() == ["Seccomp:", "0"]


@pytest.mark.root
def test_a_user_namespace_cannot_be_made_nor_a_tmpfs_mounted_in_one(runtime):
    command = ["sh", "-c", "unshare -U -r -m sh -c 'mount -t tmpfs none /tmp && echo mounted'; echo rc=$?"]
    result = run(runtime, command)
    assert "Operation not permitted" in result.output and "mounted" not in result.output
    assert result.output.strip().endswith("rc=1")
    # Capabilities alone do not stop it: unconfined, the same root makes the namespace and mounts.
    unconfined = run(runtime, command, seccomp_setting="unconfined")
    assert unconfined.output.split() == ["mounted", "rc=0"]


@pytest.mark.root
def test_the_calls_docker_blocks_fail_with_eperm(runtime, probe_layer):
    result = run(runtime, ["probe", "getpid", "personality_query", *BLOCKED, "clone_newns"], layer=probe_layer)
    assert probe_results(result.output) == {"getpid": "ok", "personality_query": "ok",
                                            **{name: "EPERM" for name in BLOCKED}, "clone_newns": "EPERM"}


@pytest.mark.root
def test_the_filter_not_the_capabilities_refuses_them(runtime, probe_layer):
    """With every capability, unconfined, the kernel gets the calls (and answers for itself)."""
    names = ["keyctl", "add_key", "kexec_load", "clone_newns"]
    unconfined = probe_results(run(runtime, ["probe", *names], layer=probe_layer, caps=ALL_CAPS,
                                   seccomp_setting="unconfined").output)
    assert unconfined["keyctl"] == "ok" and unconfined["add_key"] == "ENODEV" and unconfined["clone_newns"] == "ok"
    assert unconfined["kexec_load"] in ("EINVAL", "ENOSYS", "EBUSY")  # ENOSYS: a kernel built without kexec
    # The same process with the default profile, as resolved for Docker's capabilities (exec --privileged).
    pinned = seccomp.pinned("default", DOCKER_CAPS)
    confined = probe_results(run(runtime, ["probe", *names], layer=probe_layer, caps=ALL_CAPS,
                                 seccomp_setting=pinned).output)
    assert confined == {name: "EPERM" for name in names}


@pytest.mark.root
def test_an_ordinary_workload_is_unaffected(runtime):
    script = ("mkdir -p /tmp/d && cd /tmp/d && echo hi > f && cat f && ln -s f g && ls && rm g f && "
              "sh -c 'exit 3'; echo rc=$?; (sleep 0.1 & wait); date +%Y >/dev/null && echo ok; "
              "ps -o comm | grep -c ps")
    result = run(runtime, ["sh", "-c", script])
    lines = result.output.split()
    assert lines == ["hi", "f", "g", "rc=3", "ok", "1"], result.output
    assert result.exit_code == 0


@pytest.mark.root
def test_a_non_root_user_and_no_new_privileges_work_under_the_filter(runtime):
    plain = run(runtime, ["sh", "-c", "id -u; grep ^Seccomp: /proc/self/status"], user="65534:65534")
    assert plain.output.split() == ["65534", "Seccomp:", "2"], plain.output
    nnp = run(runtime, ["sh", "-c", "id -u; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status"],
              user="65534:65534", no_new_privileges=True)
    assert nnp.output.split() == ["65534", "NoNewPrivs:", "1", "Seccomp:", "2"], nnp.output


@pytest.mark.root
def test_a_custom_profile_denying_mkdir(runtime):
    profile = json.dumps({"defaultAction": "SCMP_ACT_ALLOW",
                          "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]})
    result = run(runtime, ["sh", "-c", "mkdir /tmp/x; echo rc=$?; touch /tmp/y && ls /tmp; "
                                       "grep ^Seccomp: /proc/self/status"], seccomp_setting=profile)
    assert "mkdir: can't create directory '/tmp/x': Operation not permitted" in result.output
    assert result.output.strip().splitlines()[1:] == ["rc=1", "y", "Seccomp:\t2"]


@pytest.mark.root
def test_errno_ret_and_argument_conditions_reach_the_kernel(runtime):
    """A rule with an errno of its own, and one that refuses ``kill`` only for signal 9 (SCMP_CMP_EQ on args[1])."""
    profile = json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 28},
        {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}]},
    ]})
    result = run(runtime, ["sh", "-c", "mkdir /tmp/x; sleep 30 & kill -9 $!; echo nine=$?; kill -15 $!; echo term=$?"],
                 seccomp_setting=profile)
    assert "No space left on device" in result.output  # errno 28, ENOSPC
    assert "nine=1" in result.output and "term=0" in result.output, result.output


@pytest.mark.root
def test_the_trace_shows_the_filter_loaded_before_execve(runtime):
    result = run(runtime, ["true"])
    events = read_trace(os.path.join(result.directory, "trace.jsonl"))
    ops = [(e["kind"], e["op"]) for e in events]
    (load,) = [e for e in events if e["kind"] == "seccomp"]
    assert load["op"] == "load" and load["args"]["profile"] == "default" and load["args"]["allowed"] > 300
    assert load["args"]["default_action"] == "SCMP_ACT_ERRNO"
    # Without no_new_privs it must go in while we still hold CAP_SYS_ADMIN: before setuid and capset.
    assert ops.index(("seccomp", "load")) < ops.index(("process", "setuid")) < ops.index(("process", "execve"))
    nnp = run(runtime, ["true"], no_new_privileges=True)
    nnp_ops = [(e["op"], e["args"].get("option")) for e in read_trace(os.path.join(nnp.directory, "trace.jsonl"))]
    # With no_new_privs the filter can go in last, after the user switch: it then filters only the execve.
    assert (nnp_ops.index(("setuid", None)) < nnp_ops.index(("prctl", "PR_SET_NO_NEW_PRIVS"))
            < nnp_ops.index(("load", None)) < nnp_ops.index(("execve", None)))
    unconfined = run(runtime, ["true"], seccomp_setting="unconfined")
    assert not [e for e in read_trace(os.path.join(unconfined.directory, "trace.jsonl")) if e["kind"] == "seccomp"]


@pytest.mark.root
def test_an_exec_d_process_is_filtered_too(runtime):
    container = runtime.container(["sleep", "60"])
    container.start(Stdio(), lambda status: None)
    out_r, out_w = os.pipe()
    done = threading.Event()
    process = Process(args=["sh", "-c", "grep ^Seccomp: /proc/self/status; unshare -U true 2>&1"], env=[])
    spec = ExecSpec(container_id=container.spec.id, target_pid=container.init.pid, process=process,
                    namespaces=["ipc", "uts", "net", "pid", "mnt"])
    container.exec(spec, Stdio(stdout=out_w), lambda status: done.set())
    os.close(out_w)
    output = b""
    while chunk := os.read(out_r, 4096):
        output += chunk
    os.close(out_r)
    assert done.wait(10)
    container.kill(9)
    lines = output.decode().splitlines()
    assert lines[0] == "Seccomp:\t2" and "Operation not permitted" in lines[1], lines


#: The socket rules of Docker's current profile (moby/profiles, 2024 on): AF_ALG and AF_VSOCK refused,
#: with rules that compare argument 0 (LT, EQ, GT) -- and a default errno of its own (defaultErrnoRet).
NEWER_SOCKET_RULES = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1, "syscalls": [
    {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 38, "op": "SCMP_CMP_LT"}]},
    {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 39, "op": "SCMP_CMP_EQ"}]},
    {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_GT"}]},
]}


@pytest.mark.root
def test_a_profile_of_newer_docker_refuses_af_vsock_sockets(runtime, probe_layer):
    profile = json.loads(json.dumps(NEWER_SOCKET_RULES))
    # Everything else the probe and its loader need: the default profile's allow-list.
    default = seccomp.resolve(seccomp.DEFAULT_PROFILE, DOCKER_CAPS)
    profile["syscalls"].append({"names": sorted(allowed(default) - {"socket"}), "action": "SCMP_ACT_ALLOW"})
    confined = probe_results(run(runtime, ["probe", "socket_unix", "socket_vsock"], layer=probe_layer,
                                 seccomp_setting=json.dumps(profile)).output)
    assert confined == {"socket_unix": "ok", "socket_vsock": "EPERM"}
    unconfined = probe_results(run(runtime, ["probe", "socket_vsock"], layer=probe_layer, seccomp_setting="unconfined").output)
    assert unconfined["socket_vsock"] != "EPERM"  # ok, or EAFNOSUPPORT without the vsock module


# --- through the daemon and the docker CLI ------------------------------------------------------


def docker(host, *args, input=None):
    return subprocess.run(["docker", *args], input=input, capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, DOCKER_HOST=host))


@pytest.mark.root
def test_docker_run_and_exec_are_filtered_and_a_server_on_loopback_works(nbdock_host, tmp_path):
    script = ("grep ^Seccomp: /proc/self/status; mkdir /www && echo served > /www/index.html && "
              "httpd -p 127.0.0.1:8080 -h /www && wget -q -O - http://127.0.0.1:8080/")
    result = docker(nbdock_host, "run", "--rm", "busybox", "sh", "-c", script)
    assert result.stdout.split() == ["Seccomp:", "2", "served"], result.stderr
    name = f"seccomp-{os.getpid()}"
    assert docker(nbdock_host, "run", "-d", "--name", name, "busybox", "sleep", "60").returncode == 0
    try:
        execd = docker(nbdock_host, "exec", name, "sh", "-c", "grep ^Seccomp: /proc/self/status; unshare -U -r true")
        assert execd.stdout.split() == ["Seccomp:", "2"] and "Operation not permitted" in execd.stderr
        assert execd.returncode == 1
    finally:
        docker(nbdock_host, "rm", "-f", name)


@pytest.mark.root
def test_security_opt_seccomp_from_the_cli(nbdock_host, tmp_path):
    profile = tmp_path / "no-mkdir.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW",
                                   "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}, indent=2))
    custom = docker(nbdock_host, "run", "--rm", "--security-opt", f"seccomp={profile}", "busybox",
                    "sh", "-c", "mkdir /x; echo rc=$?; touch /y && echo touched")
    assert custom.stdout.split() == ["rc=1", "touched"] and "Operation not permitted" in custom.stderr
    off = docker(nbdock_host, "run", "--rm", "--security-opt", "seccomp=unconfined", "busybox", "grep", "^Seccomp:",
                 "/proc/self/status")
    assert off.stdout.split() == ["Seccomp:", "0"]
    # The CLI sends the profile inline, compacted; inspect shows the option as it was sent.
    created = docker(nbdock_host, "create", "--security-opt", f"seccomp={profile}", "busybox")
    try:
        shown = json.loads(docker(nbdock_host, "inspect", "-f", "{{json .HostConfig.SecurityOpt}}", created.stdout.strip()).stdout)
        assert shown == ['seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],'
                         '"action":"SCMP_ACT_ERRNO"}]}']
    finally:
        docker(nbdock_host, "rm", "-f", created.stdout.strip())
    info = docker(nbdock_host, "info", "--format", "{{json .SecurityOptions}}")
    assert json.loads(info.stdout) == ["name=seccomp,profile=default"]


@pytest.mark.root
def test_a_profile_that_cannot_load_is_a_400_at_create(nbdock_host):
    import docker as docker_py

    client = docker_py.APIClient(base_url=nbdock_host, version="auto")
    try:
        before = client.containers(all=True, quiet=True)
        for option, message in [
            ('seccomp={"defaultAction":"SCMP_ACT_BOGUS"}',
             "failed to create shim task: OCI runtime create failed: runc create failed: "
             "string SCMP_ACT_BOGUS is not a valid action for seccomp: unknown"),
            ("seccomp=/path/the/client/should/have/read.json", "Decoding seccomp profile failed: "),
            ("seccomp=default", "Decoding seccomp profile failed: "),  # Docker 20.10 has no profile named so
        ]:
            with pytest.raises(docker_py.errors.APIError) as caught:
                client.create_container("busybox", "true", host_config=client.create_host_config(security_opt=[option]))
            assert caught.value.status_code == 400 and caught.value.explanation.startswith(message), caught.value.explanation
        assert client.containers(all=True, quiet=True) == before  # nothing was left behind
        # An empty value is Docker's default profile.
        made = client.create_container("busybox", "true", host_config=client.create_host_config(security_opt=["seccomp="]))
        client.remove_container(made["Id"])
    finally:
        client.close()
