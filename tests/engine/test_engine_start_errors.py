"""What a user reads when a container's command cannot run: the execve that failed, not runc's words."""

from nbdock import errors
from nbdock.engine.starterrors import start_error, start_failure_message
from nbdock.runtime.errors import ContainerStartError


def test_a_missing_command_names_execve_enoent_and_the_path_searched():
    error = start_error(ContainerStartError('exec: "nope": executable file not found in $PATH', 127),
                        ["A=1", "PATH=/usr/bin:/bin"])
    assert isinstance(error, errors.CommandNotFound)
    assert error.message == ('the container\'s process could not start: execve in the container failed with ENOENT '
                             '(no such file or directory): exec: "nope": executable file not found in $PATH '
                             '(PATH searched: /usr/bin:/bin)')
    assert "shim" not in error.message and "runc" not in error.message
    # The docker CLI turns these words into its exit code 127.
    assert "executable file not found" in error.message


def test_a_command_that_cannot_be_executed_is_eacces_and_126():
    error = start_error(ContainerStartError('exec: "/etc": permission denied', 126), [])
    assert isinstance(error, errors.CommandNotExecutable)
    assert "EACCES (permission denied)" in error.message and "permission denied" in error.message
    assert "PATH searched: /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" in error.message


def test_an_exec_says_it_is_the_exec():
    message = start_failure_message("exec", ContainerStartError('exec: "x": executable file not found in $PATH', 127),
                                    ["PATH=/bin"])
    assert message.startswith("the exec's process could not start: execve in the container failed with ENOENT")


def test_other_start_failures_keep_the_runtimes_words():
    error = start_error(ContainerStartError("no command specified", 125), [])
    assert isinstance(error, errors.InvalidArgument) and error.message == "no command specified"
