"""``--health-*`` and ``--no-healthcheck`` -> Config.Healthcheck, as the docker CLI 28 sends it.

The expected bodies were captured from the real docker CLI (a unix-socket
server recording its ``POST /containers/create``).
"""

import pytest

from nbdock.client.container_config import create_body, parse_duration
from nbdock.client.flags import FlagError, parse
from nbdock.client.syntax import find_command


def body_for(argv):
    command, rest = find_command(argv)
    return create_body(parse(command, rest)).body


@pytest.mark.parametrize("argv, expected", [
    (["create", "--health-cmd", "curl -f localhost", "--health-interval", "1m30s", "--health-timeout", "1.5s",
      "--health-start-period", "200ms", "--health-retries", "4", "busybox"],
     {"Test": ["CMD-SHELL", "curl -f localhost"], "Interval": 90_000_000_000, "Timeout": 1_500_000_000,
      "StartPeriod": 200_000_000, "Retries": 4}),
    (["create", "--no-healthcheck", "busybox"], {"Test": ["NONE"]}),
    # No command: the image's HEALTHCHECK command stays, the daemon merges the rest.
    (["create", "--health-timeout", "2s", "busybox"], {"Timeout": 2_000_000_000}),
])
def test_health_flags_make_the_clis_healthcheck(argv, expected):
    body = body_for(argv)
    assert body["Healthcheck"] == expected
    keys = list(body)
    assert keys.index("Healthcheck") == keys.index("Cmd") + 1  # where the CLI puts it (Go's field order)


def test_no_health_flag_sends_no_healthcheck():
    assert "Healthcheck" not in body_for(["run", "busybox"])


@pytest.mark.parametrize("argv, message", [
    (["run", "--health-interval", "abc", "busybox"],
     'invalid argument "abc" for "--health-interval" flag: time: invalid duration "abc"'),
    (["run", "--health-timeout", "5", "busybox"],
     'invalid argument "5" for "--health-timeout" flag: time: missing unit in duration "5"'),
    (["run", "--health-start-period", "3d", "busybox"],
     'invalid argument "3d" for "--health-start-period" flag: time: unknown unit "d" in duration "3d"'),
    (["run", "--health-retries", "x", "busybox"],
     'invalid argument "x" for "--health-retries" flag: strconv.ParseInt: parsing "x": invalid syntax'),
    (["run", "--health-interval", "-1s", "busybox"], "--health-interval cannot be negative"),
    (["run", "--health-retries", "-2", "busybox"], "--health-retries cannot be negative"),
    (["run", "--no-healthcheck", "--health-cmd", "true", "busybox"], "--no-healthcheck conflicts with --health-* options"),
])
def test_bad_health_flags_get_the_clis_words(argv, message):
    with pytest.raises(FlagError) as error:
        body_for(argv)
    assert error.value.message == message


@pytest.mark.parametrize("text, nanoseconds", [
    ("0", 0), ("200ms", 200_000_000), ("1.5s", 1_500_000_000), ("1m30s", 90_000_000_000), ("1h", 3_600_000_000_000),
    ("250us", 250_000), ("2.25ms", 2_250_000), ("1s500ms", 1_500_000_000), ("-1s", -1_000_000_000),
])
def test_go_durations(text, nanoseconds):
    assert parse_duration(text, "health-interval") == nanoseconds
