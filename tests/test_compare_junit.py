"""scripts/compare-junit.py: every test that passed on the reference and not on nbdock is reported."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "compare-junit.py"


def junit(path, cases):
    """Write a junit file holding `cases`: (classname, name, outcome) with outcome in
    passed / failure / error / skipped."""
    body = []
    for classname, name, outcome in cases:
        inner = "" if outcome == "passed" else f'<{outcome} message="m">details</{outcome}>'
        body.append(f'<testcase classname="{classname}" name="{name}" time="0.1">{inner}</testcase>')
    path.write_text('<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">'
                    + "".join(body) + "</testsuite></testsuites>")
    return str(path)


def compare(ref, sut):
    return subprocess.run([sys.executable, str(SCRIPT), ref, sut], capture_output=True, text=True, timeout=60)


def test_reports_each_lost_test_and_fails(tmp_path):
    ref = junit(tmp_path / "ref.xml", [
        ("t.A", "test_ok", "passed"), ("t.A", "test_fails", "passed"), ("t.A", "test_errors", "passed"),
        ("t.A", "test_skips", "passed"), ("t.A", "test_gone", "passed"),
        ("t.A", "test_broken_on_ref", "failure"),
    ])
    sut = junit(tmp_path / "sut.xml", [
        ("t.A", "test_ok", "passed"), ("t.A", "test_fails", "failure"), ("t.A", "test_errors", "error"),
        ("t.A", "test_skips", "skipped"), ("t.A", "test_broken_on_ref", "failure"),
    ])
    result = compare(ref, sut)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split() for line in lines[:-1]] == [
        ["error", "t.A::test_errors"], ["failed", "t.A::test_fails"],
        ["missing", "t.A::test_gone"], ["skipped", "t.A::test_skips"],
    ]
    assert lines[-1] == "reference: 5 passed of 6; nbdock: 1 passed of 5; 4 lost (0 of them known)"


def test_nothing_lost_exits_zero(tmp_path):
    ref = junit(tmp_path / "ref.xml", [("t.A", "test_ok", "passed"), ("t.A", "test_bad", "failure")])
    # Passing only on nbdock is fine; extra tests are fine.
    sut = junit(tmp_path / "sut.xml", [("t.A", "test_ok", "passed"), ("t.A", "test_bad", "passed"),
                                       ("t.B", "test_new", "skipped")])
    result = compare(ref, sut)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "reference: 1 passed of 2; nbdock: 2 passed of 3; 0 lost (0 of them known)\n"


def test_teardown_error_after_a_pass_counts_as_lost(tmp_path):
    # pytest may record a teardown error as a second <testcase> of the same name: the worst wins.
    ref = junit(tmp_path / "ref.xml", [("t.A", "test_x", "passed")])
    sut = junit(tmp_path / "sut.xml", [("t.A", "test_x", "passed"), ("t.A", "test_x", "error")])
    result = compare(ref, sut)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0].split() == ["error", "t.A::test_x"]


def test_unreadable_report_is_named(tmp_path):
    ref = junit(tmp_path / "ref.xml", [("t.A", "test_x", "passed")])
    (tmp_path / "bad.xml").write_text("<testsuites><testsuite>")
    result = compare(ref, str(tmp_path / "bad.xml"))
    assert result.returncode == 2
    assert "bad.xml" in result.stderr
    result = compare(ref, str(tmp_path / "absent.xml"))
    assert result.returncode == 2
    assert "absent.xml" in result.stderr


def test_known_losses_are_listed_but_do_not_fail_and_a_known_one_that_passes_is_said(tmp_path):
    ref = junit(tmp_path / "ref.xml", [("t", "a", "passed"), ("t", "b", "passed"), ("t", "c", "passed")])
    sut = junit(tmp_path / "sut.xml", [("t", "a", "failure"), ("t", "b", "passed"), ("t", "c", "passed")])
    known = tmp_path / "known.txt"
    known.write_text("# tests nbdock loses on purpose\nt::a  # IPv6: nbdock networks are IPv4 only\nt::c # fixed since\n")
    result = subprocess.run([sys.executable, str(SCRIPT), "--known", str(known), str(ref), str(sut)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed   t::a  (known: IPv6: nbdock networks are IPv4 only)" in result.stdout
    assert "passes   t::c  (listed as known: take it off the list)" in result.stdout
    assert result.stdout.splitlines()[-1].endswith("1 lost (1 of them known)")
    unknown = tmp_path / "none.txt"
    unknown.write_text("")
    assert subprocess.run([sys.executable, str(SCRIPT), "--known", str(unknown), str(ref), str(sut)],
                          capture_output=True).returncode == 1
