"""Docker's context before an error's message, its kind (and so the HTTP status and the CLI's exit code) kept."""

from nbdock import errors
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
