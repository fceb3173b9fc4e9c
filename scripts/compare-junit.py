#!/usr/bin/env python3
"""Compare two junit XML reports test by test: what passed on the reference must pass here.

    usage: compare-junit.py [--known FILE] REF.xml SUT.xml

REF.xml is a run of a test suite against the reference engine (dockerd), SUT.xml a run of the
same suite against nbdock.  Prints every test that passed on the reference and did not pass on
nbdock -- failed, errored, skipped or missing from SUT.xml altogether -- then one summary line,
and exits 1 if there is any such test (0 if none, 2 if a report cannot be read).

``--known FILE`` names tests nbdock is known to lose, one ``classname::name`` a line with the
reason after a ``#`` (the README lists them as differences): they are printed as "known" and do
not fail the comparison; a known one that passes again is printed too, so the list only shrinks.

Tests that did not pass on the reference are not nbdock's concern here, and a test that passes
on nbdock only is fine: the comparison is one-directional on purpose.

A test is named ``classname::name`` as pytest writes them.  pytest records a test once per
<testcase>, but a teardown error on a passed test is added to the same <testcase> (or, in some
versions, as a second one): the worst outcome seen for a name is the one that counts.
"""
import sys
import xml.etree.ElementTree as ET

# Outcomes from best to worst; a test's outcome is the worst one recorded for it.
RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}


def outcomes(path):
    """Map ``classname::name`` -> outcome for every <testcase> of the junit file at path."""
    root = ET.parse(path).getroot()
    result = {}
    for case in root.iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                tag = "failed" if child.tag == "failure" else child.tag
                if RANK[tag] > RANK[outcome]:
                    outcome = tag
        if name not in result or RANK[outcome] > RANK[result[name]]:
            result[name] = outcome
    return result


def known_losses(path):
    """``classname::name`` -> reason, from a --known file."""
    known = {}
    with open(path) as f:
        for line in f:
            name, _, reason = line.partition("#")
            if name.strip():
                known[name.strip()] = reason.strip()
    return known


def main(argv):
    args = argv[1:]
    known = {}
    if args[:1] == ["--known"] and len(args) >= 2:
        try:
            known = known_losses(args[1])
        except OSError as e:
            print(f"compare-junit: cannot read {args[1]}: {e}", file=sys.stderr)
            return 2
        args = args[2:]
    if len(args) != 2:
        print("usage: compare-junit.py [--known FILE] REF.xml SUT.xml", file=sys.stderr)
        return 2
    reports = []
    for path in args:
        try:
            reports.append(outcomes(path))
        except (OSError, ET.ParseError) as e:
            print(f"compare-junit: cannot read {path}: {e}", file=sys.stderr)
            return 2
    ref, sut = reports
    passed_ref = sorted(name for name, outcome in ref.items() if outcome == "passed")
    lost = [(name, sut.get(name, "missing")) for name in passed_ref if sut.get(name) != "passed"]
    unexpected = [(name, outcome) for name, outcome in lost if name not in known]
    for name, outcome in lost:
        note = f"  (known: {known[name]})" if name in known else ""
        print(f"{outcome:8} {name}{note}")
    for name in sorted(known):
        if sut.get(name) == "passed":
            print(f"passes   {name}  (listed as known: take it off the list)")
    passed_sut = sum(1 for outcome in sut.values() if outcome == "passed")
    print(f"reference: {len(passed_ref)} passed of {len(ref)}; nbdock: {passed_sut} passed of {len(sut)}; "
          f"{len(lost)} lost ({len(lost) - len(unexpected)} of them known)")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
