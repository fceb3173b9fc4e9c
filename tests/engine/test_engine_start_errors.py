"""A container's command that cannot run: Docker's words for Docker's clients, the execve that failed for students."""

import pytest

from nbdock import errors
from nbdock.engine import createconfig
from nbdock.engine.starterrors import exec_start_message, start_error
from nbdock.runtime.errors import ContainerStartError


def test_a_missing_command_keeps_dockers_words_and_explains_the_execve():
    error = start_error(ContainerStartError('exec: "nope": executable file not found in $PATH', 127),
                        ["A=1", "PATH=/usr/bin:/bin"])
    assert isinstance(error, errors.CommandNotFound)
    # Word for word what Docker 20.10 answers (../shared/conformance/scenarios/build_entrypoint_cmd.sh
    # compares it); the docker CLI turns "executable file not found" into its exit code 127.
    assert error.message == ('failed to create shim task: OCI runtime create failed: runc create failed: unable to '
                             'start container process: exec: "nope": executable file not found in $PATH: unknown')
    assert error.explanation.startswith("nbdock: the container's process could not start: execve in the container "
                                        "failed with ENOENT (no such file or directory) (PATH searched: /usr/bin:/bin)")


def test_a_command_that_cannot_be_executed_is_eacces_and_126():
    error = start_error(ContainerStartError('exec: "/etc": permission denied', 126), [])
    assert isinstance(error, errors.CommandNotExecutable)
    assert error.message.endswith('exec: "/etc": permission denied: unknown')
    assert "EACCES (permission denied)" in error.explanation
    assert "PATH searched: /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" in error.explanation


def test_an_exec_that_cannot_start_reports_dockers_exec_words():
    message = exec_start_message(ContainerStartError('exec: "x": executable file not found in $PATH', 127))
    assert message == ('OCI runtime exec failed: exec failed: unable to start container process: '
                       'exec: "x": executable file not found in $PATH: unknown')


def test_other_start_failures_keep_the_runtimes_words():
    error = start_error(ContainerStartError("no command specified", 125), [])
    assert isinstance(error, errors.InvalidArgument) and error.message == "no command specified"
    assert error.explanation is None


def test_a_sysctl_of_the_hosts_namespace_is_refused_in_dockers_words_and_explained():
    with pytest.raises(errors.InvalidArgument) as caught:
        createconfig.sysctls({"NetworkMode": "host", "Sysctls": {"net.ipv4.ip_forward": "1"}})
    assert caught.value.message == ('failed to create shim task: OCI runtime create failed: runc create failed: '
                                    'sysctl "net.ipv4.ip_forward" not allowed in host network namespace: unknown')
    assert "would change the host" in caught.value.explanation


def test_a_seccomp_profile_the_kernel_cannot_load_is_refused_in_dockers_words():
    with pytest.raises(errors.InvalidArgument) as caught:
        createconfig.check_seccomp({"SecurityOpt": ['seccomp={"defaultAction":"SCMP_ACT_X"}']})
    assert caught.value.message == ("failed to create shim task: OCI runtime create failed: runc create failed: "
                                    "string SCMP_ACT_X is not a valid action for seccomp: unknown")
    assert "cannot be loaded into the kernel" in caught.value.explanation
