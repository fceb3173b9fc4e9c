"""What the CLI prints: sizes, durations, templates, tables, ps/images/history rows, stats math."""

import json
from pathlib import Path

import pytest

from nbdock.client import stats as stats_math
from nbdock.client.commands.containers import display_ports, ps_row
from nbdock.client.commands.images import history_row, image_rows
from nbdock.client.flags import FlagError
from nbdock.client.formatting import Listing, binary_size, human_duration, human_size, render_listing, render_template, tabwrite

SAMPLES = json.loads((Path(__file__).parent / "data" / "dockerd_samples.json").read_text())


@pytest.mark.parametrize("size, text", [(0, "0B"), (999, "999B"), (1000, "1kB"), (1_984_000, "1.98MB"), (2.5e9, "2.5GB")])
def test_human_size(size, text):
    assert human_size(size) == text


def test_binary_size():
    assert binary_size(1_048_576) == "1MiB" and binary_size(25_275_000_000) == "23.54GiB"


@pytest.mark.parametrize("seconds, text", [
    (0.5, "Less than a second"), (1, "1 second"), (59, "59 seconds"), (60, "About a minute"), (3000, "50 minutes"),
    (3600, "About an hour"), (47 * 3600, "47 hours"), (3 * 86400, "3 days"), (20 * 86400, "2 weeks"),
    (90 * 86400, "3 months"), (800 * 86400, "2 years"),
])
def test_human_duration(seconds, text):
    assert human_duration(seconds) == text


def test_templates():
    record = {"Name": "web", "State": {"Status": "running", "Running": True}, "Labels": {"b": "2", "a": "1"}, "Ports": None}
    assert render_template("{{.Name}}: {{.State.Status}}", record) == "web: running"
    assert render_template("{{json .State}}", record) == '{"Status": "running", "Running": true}'
    assert render_template("{{.State.Running}} {{.Labels}} {{.Ports}}", record) == "true map[a:1 b:2] <nil>"
    with pytest.raises(FlagError, match="range"):
        render_template("{{range .Labels}}x{{end}}", record)
    with pytest.raises(FlagError, match="can't evaluate field Nope"):
        render_template("{{.Nope}}", record)


def test_tabwriter_matches_docker_padding():
    # minimum width 10, 3 spaces of padding, the last column unpadded
    assert tabwrite(["CONTAINER ID\tIMAGE\tNAMES", "abc\tbusybox\tweb"]) == (
        "CONTAINER ID   IMAGE     NAMES\n"
        "abc            busybox   web\n")


def test_listing_with_table_format_and_quiet():
    listing = Listing({"ID": "CONTAINER ID", "Names": "NAMES"}, "table {{.ID}}\\t{{.Names}}", [{"ID": "abc", "Names": "web"}])
    assert render_listing(listing) == "CONTAINER ID   NAMES\nabc            web\n"
    assert render_listing(listing, "{{.Names}}") == "web\n"
    assert render_listing(listing, quiet=True) == "abc\n"


def test_ports_column_like_docker():
    ports = [
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"PrivatePort": 5000, "Type": "tcp"}, {"PrivatePort": 5001, "Type": "tcp"}, {"PrivatePort": 53, "Type": "udp"},
        {"IP": "0.0.0.0", "PrivatePort": 9000, "PublicPort": 9000, "Type": "tcp"},
    ]
    assert display_ports(ports) == (
        "53/udp, 5000-5001/tcp, 0.0.0.0:9000->9000/tcp, 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp")


def test_ps_row_from_a_recorded_dockerd_answer():
    summary = SAMPLES["container_summary"]
    row = ps_row(summary, now=summary["Created"] + 5)
    assert row["ID"] == summary["Id"][:12]
    assert row["Command"] == '"sleep 30"'
    assert row["RunningFor"] == "5 seconds ago"
    assert row["Names"] == "fe_record"
    assert row["Ports"] == "0.0.0.0:18082->80/tcp, [::]:18082->80/tcp"


def test_long_commands_are_cut_with_an_ellipsis():
    row = ps_row({"Id": "a" * 64, "Command": "sh -c 'while true; do sleep 1; done'", "Created": 0}, now=0)
    assert row["Command"] == '"sh -c \'while true; …"'  # as docker ps prints it


def test_image_and_history_rows_from_recorded_answers():
    summary = SAMPLES["image_summary"]
    (row,) = image_rows(summary, now=summary["Created"] + 120)
    assert (row["Repository"], row["Tag"], row["CreatedSince"]) == ("busybox", "latest", "2 minutes ago")
    assert row["ID"] == summary["Id"][7:19] and row["Size"] == human_size(summary["Size"])
    untagged = image_rows({"Id": "sha256:" + "b" * 64, "RepoTags": None, "RepoDigests": None, "Created": 0, "Size": 0}, now=0)
    assert (untagged[0]["Repository"], untagged[0]["Tag"]) == ("<none>", "<none>")
    layer = SAMPLES["history"][0]
    assert history_row(layer, now=layer["Created"] + 60)["CreatedSince"] == "About a minute ago"


def test_stats_like_docker_cli():
    sample = stats_math.summarize(SAMPLES["stats"])
    assert sample["name"] == "fe_record" and sample["pids"] == 1
    assert sample["memory_limit_bytes"] == 64 << 20
    raw = SAMPLES["stats"]
    assert sample["memory_bytes"] == raw["memory_stats"]["usage"] - raw["memory_stats"]["stats"]["total_inactive_file"]
    row = stats_math.display_row(sample)
    assert row["MemUsage"].endswith(" / 64MiB") and row["PIDs"] == "1"


def test_cpu_percent_is_the_share_of_host_cpu_time_times_cpus():
    raw = {
        "cpu_stats": {"cpu_usage": {"total_usage": 3_000_000_000}, "system_cpu_usage": 20_000_000_000, "online_cpus": 2},
        "precpu_stats": {"cpu_usage": {"total_usage": 1_500_000_000}, "system_cpu_usage": 18_000_000_000},
    }
    # 1.5 s of CPU while the host's 2 CPUs spent 2 s: 75% of the host, 150% of one CPU
    assert stats_math.cpu_percent(raw) == pytest.approx(150.0)
    raw["precpu_stats"]["system_cpu_usage"] = 20_000_000_000
    assert stats_math.cpu_percent(raw) == 0.0
