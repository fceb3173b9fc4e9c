"""Errors in nbdock's own words, their kind (and so the HTTP status and the CLI's exit code) kept."""

import pytest

from nbdock import errors
from nbdock.engine import createconfig
from nbdock.engine.errorcontext import in_context


def test_context_goes_before_the_message_and_the_kind_stays():
    conflict = in_context(errors.Conflict('the container name "/web" is already in use'), "Error when allocating new name")
    assert type(conflict) is errors.Conflict and conflict.status == 409
    assert conflict.message == str(conflict) == 'Error when allocating new name: the container name "/web" is already in use'


def test_context_keeps_what_a_subclass_carries():
    # type(error)(message) would lose it: a build error carries its step's exit code too.
    original = errors.BuildError("The command '/bin/sh -c false' returned a non-zero code: 1", code=1)
    original.code = 7
    placed = in_context(original, "Step 2/2")
    assert type(placed) is errors.BuildError and placed.code == 7
    assert placed.message == "Step 2/2: The command '/bin/sh -c false' returned a non-zero code: 1"
    assert original.message.startswith("The command")  # a copy: the original is untouched


def test_a_sysctl_of_the_hosts_namespace_is_refused_without_runcs_words():
    with pytest.raises(errors.InvalidArgument) as caught:
        createconfig.sysctls({"NetworkMode": "host", "Sysctls": {"net.ipv4.ip_forward": "1"}})
    assert caught.value.message == ('sysctl "net.ipv4.ip_forward" not allowed in host network namespace: the container '
                                    "shares the host's network namespace, so setting it would change the host")


def test_a_seccomp_profile_the_kernel_cannot_load_says_so_without_runcs_words():
    with pytest.raises(errors.InvalidArgument) as caught:
        createconfig.check_seccomp({"SecurityOpt": ['seccomp={"defaultAction":"SCMP_ACT_X"}']})
    assert caught.value.message == ("seccomp profile cannot be loaded into the kernel: "
                                    "string SCMP_ACT_X is not a valid action for seccomp")
    # The docker CLI exits 125 for it, as for Docker's words: neither names a missing or forbidden executable.
    assert "executable file not found" not in caught.value.message and "permission denied" not in caught.value.message
