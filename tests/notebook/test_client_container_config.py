"""run/create flags -> the create body, compared with what the real docker CLI sent."""

import json
from pathlib import Path

import pytest

from nbdock.client.container_config import create_body, parse_bytes, parse_mount, parse_ports, parse_volumes
from nbdock.client.flags import FlagError, parse
from nbdock.client.syntax import find_command

RECORDED = json.loads((Path(__file__).parent / "data" / "docker_cli_create_bodies.json").read_text())


def request_for(argv, **kwargs):
    command, rest = find_command(argv)
    return create_body(parse(command, rest), **kwargs)


@pytest.mark.parametrize("recorded", RECORDED["requests"], ids=lambda r: " ".join(r["argv"][:3]))
def test_same_body_as_docker_cli_28(recorded):
    request = request_for(recorded["argv"])
    assert request.name == recorded["name"]
    assert request.body == recorded["body"]


def test_terminal_size_goes_into_console_size_only_with_tty():
    assert request_for(["run", "-t", "busybox"], console_size=(30, 100)).body["HostConfig"]["ConsoleSize"] == [30, 100]
    assert request_for(["run", "busybox"], console_size=(30, 100)).body["HostConfig"]["ConsoleSize"] == [0, 0]


def test_env_file_then_env_and_names_copied_from_our_environment(tmp_path, monkeypatch):
    env_file = tmp_path / "vars"
    env_file.write_text("# comment\nFROM_FILE=1\n\nCOPIED\nUNSET_HERE\n")
    monkeypatch.setenv("COPIED", "yes")
    monkeypatch.delenv("UNSET_HERE", raising=False)
    body = request_for(["run", "--env-file", str(env_file), "-e", "B=2", "busybox"]).body
    assert body["Env"] == ["FROM_FILE=1", "COPIED=yes", "B=2"]


def test_relative_bind_source_becomes_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    anonymous, binds = parse_volumes(["./data:/data", "/anon"])
    assert binds == [f"{tmp_path}/data:/data"] and anonymous == {"/anon": {}}


def test_port_forms():
    exposed, bindings = parse_ports(["80", "[::1]:8443:443", "7000-7002:7000-7002/udp", "8000-8010:9000"], ["5000/udp"])
    assert bindings["80/tcp"] == [{"HostIp": "", "HostPort": ""}]
    assert bindings["443/tcp"] == [{"HostIp": "::1", "HostPort": "8443"}]
    assert [bindings[f"{p}/udp"][0]["HostPort"] for p in (7000, 7001, 7002)] == ["7000", "7001", "7002"]
    assert bindings["9000/tcp"] == [{"HostIp": "", "HostPort": "8000-8010"}]
    assert "5000/udp" in exposed


@pytest.mark.parametrize("spec, message", [
    ("99999:80", "invalid port range: 99999"),
    ("80/icmp", "invalid proto: icmp"),
    ("1-3:1-2", "invalid ranges"),
])
def test_bad_ports_are_named(spec, message):
    with pytest.raises(FlagError, match=message):
        parse_ports([spec], [])


def test_sizes():
    assert parse_bytes("64m", "memory") == 64 << 20
    assert parse_bytes("1.5g", "memory") == 3 << 29
    assert parse_bytes("512KiB", "memory") == 512 << 10
    assert parse_bytes("1024", "memory") == 1024
    with pytest.raises(FlagError, match="invalid size: 'zz'"):
        parse_bytes("zz", "memory")


def test_mount_and_its_errors():
    assert parse_mount("type=tmpfs,dst=/t,tmpfs-size=1m") == {"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1 << 20}}
    with pytest.raises(FlagError, match="target is required"):
        parse_mount("type=bind,src=/x")
    with pytest.raises(FlagError, match="unexpected key 'colour'"):
        parse_mount("colour=blue,dst=/x")


@pytest.mark.parametrize("argv, message", [
    (["run", "--rm", "--restart", "always", "busybox"], "cannot specify both --restart and --rm"),
    (["run", "--restart", "sometimes", "busybox"], 'invalid restart policy format: "sometimes"'),
    (["run", "--network-alias", "a", "busybox"], "only supported for user-defined networks"),
    (["run", "--cpus", "lots", "busybox"], "failed to parse lots as a rational number"),
    (["run", "-v", "relative", "busybox"], "mount path must be absolute"),
])
def test_refusals_name_what_was_wrong(argv, message):
    with pytest.raises(FlagError, match=message):
        request_for(argv)


def test_init_is_sent_only_when_asked_for():
    assert request_for(["run", "--init", "busybox"]).body["HostConfig"]["Init"] is True
    assert "Init" not in request_for(["run", "busybox"]).body["HostConfig"]


def test_security_opt_sends_a_seccomp_profile_file_as_compact_json(tmp_path):
    profile = tmp_path / "deny-mkdir.json"
    profile.write_text('{\n  "defaultAction": "SCMP_ACT_ALLOW",\n  "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]\n}\n')
    body = request_for(["run", "--security-opt", f"seccomp={profile}", "--security-opt", "no-new-privileges",
                        "--security-opt", "apparmor:unconfined", "busybox"]).body
    assert body["HostConfig"]["SecurityOpt"] == [
        'seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}',
        "no-new-privileges", "apparmor:unconfined"]
    assert request_for(["run", "--security-opt", "seccomp=unconfined", "busybox"]).body["HostConfig"]["SecurityOpt"] == [
        "seccomp=unconfined"]
    assert request_for(["run", "busybox"]).body["HostConfig"]["SecurityOpt"] is None


def test_security_opt_errors_are_the_docker_clis(tmp_path):
    with pytest.raises(FlagError, match=r"opening seccomp profile \(/nonexistent.json\) failed: open /nonexistent.json: no such file"):
        request_for(["run", "--security-opt", "seccomp=/nonexistent.json", "busybox"])
    with pytest.raises(FlagError, match='Invalid --security-opt: "bogus"'):
        request_for(["run", "--security-opt", "bogus", "busybox"])
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(FlagError, match=r"compacting json for seccomp profile"):
        request_for(["run", "--security-opt", f"seccomp={broken}", "busybox"])
