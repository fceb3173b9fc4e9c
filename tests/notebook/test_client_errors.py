"""One translation of a client command's failure into what the user reads, for the CLI and the magics alike."""

import docker
import pytest
import requests
from IPython.core.error import UsageError

from nbdock.client.errors import CommandError, client_errors, translate
from nbdock.client.flags import FlagError
from nbdock.errors import InvalidArgument

HOST = "unix:///run/nbdock/test.sock"


def _api_error(status: int, reason: str, explanation: str | None):
    response = requests.Response()
    response.status_code, response.reason = status, reason
    return docker.errors.APIError(f"{status} Client Error", response=response, explanation=explanation)


@pytest.mark.parametrize("error, message, exit_code", [
    (CommandError("as it is", 125), "as it is", 125),
    (FlagError("invalid argument \"x\" for \"-m\" flag"), "invalid argument \"x\" for \"-m\" flag", 125),
    (_api_error(404, "Not Found", "No such container: web"), "Error response from daemon: No such container: web", 1),
    (_api_error(502, "Bad Gateway", None), "Error response from daemon: 502 Bad Gateway", 1),
    (InvalidArgument("invalid reference format"), "invalid reference format", 1),
    (requests.exceptions.ConnectionError("refused"),
     f"Cannot connect to the nbdock daemon at {HOST}. Is the daemon running?", 1),
])
def test_each_kind_of_failure_has_one_message(error, message, exit_code):
    assert isinstance(error, client_errors())
    failure = translate(error, HOST)
    assert (failure.message, failure.exit_code) == (message, exit_code)


def test_an_nbdock_daemons_explanation_follows_dockers_words():
    # The daemon keeps Docker's words in "message" (Docker's clients read only that) and says
    # what really happened in "explanation"; nbdock's CLI and magics show both.
    error = _api_error(400, "Bad Request", "failed to create shim task: OCI runtime create failed: ...: unknown")
    error.response._content = b'{"message": "ignored", "explanation": "nbdock: execve in the container failed with ENOENT"}'
    assert translate(error, HOST).message == ("Error response from daemon: failed to create shim task: OCI runtime "
                                              "create failed: ...: unknown\nnbdock: execve in the container failed with ENOENT")


def test_a_bug_is_not_dressed_as_a_users_error():
    assert not isinstance(KeyError("x"), client_errors())
    with pytest.raises(TypeError):
        translate(KeyError("x"), HOST)


def test_the_cli_and_the_magic_say_the_same_thing(shell, nbdock_cli):
    cli = nbdock_cli("logs", "nbtest-no-such-container")
    with pytest.raises(UsageError) as magic:
        shell.run_line_magic("dock", "logs nbtest-no-such-container")
    assert cli.returncode == 1
    assert cli.stderr.strip() == str(magic.value) == "Error response from daemon: No such container: nbtest-no-such-container"
