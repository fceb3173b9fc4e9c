"""Docker's context before an error's message, its kind (and so the HTTP status and the CLI's exit code) kept."""

import logging

from nbdock import errors
from nbdock.engine.containers.listing import is_ancestor
from nbdock.engine.errorcontext import in_context, warn_and_go_on
from nbdock.engine.records import ContainerRecord


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


def test_a_failed_cleanup_step_is_a_warning_and_a_bug_keeps_its_traceback(caplog):
    log = logging.getLogger("nbdock.test")
    with caplog.at_level(logging.WARNING, logger="nbdock.test"):
        warn_and_go_on(log, "removing the cgroup of abc", OSError(16, "Device or resource busy"))
        warn_and_go_on(log, "disconnecting abc from net", errors.NotFound("no such network"))
        try:
            {}["endpoint"]
        except KeyError as e:
            warn_and_go_on(log, "disconnecting abc from other", e)
    host, ours, bug = caplog.records
    assert host.getMessage() == "removing the cgroup of abc: [Errno 16] Device or resource busy" and not host.exc_info
    assert ours.getMessage() == "disconnecting abc from net: no such network" and not ours.exc_info
    assert bug.getMessage() == "disconnecting abc from other: KeyError: 'endpoint'" and bug.exc_info[0] is KeyError


def test_ps_ancestor_filter_with_what_is_no_reference_matches_nothing():
    record = ContainerRecord(Id="a" * 64, Name="/web", Created="", Image="sha256:" + "b" * 64, ImageName="busybox",
                             Path="sh", Args=[], Config={}, HostConfig={})
    assert is_ancestor(record, "busybox") and is_ancestor(record, "docker.io/library/busybox:latest")
    assert not is_ancestor(record, "Not/A:Reference!")  # refused by the parser: no error, no match
