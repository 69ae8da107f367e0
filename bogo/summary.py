#!/usr/bin/env python3
"""Totals of a BoGo run and the verdict against bogo/known-failures.txt.

usage: summary.py RESULTS.json RUNNER.log KNOWN_FAILURES.txt [--subset] [--unexpected OUT]

Prints passed / failed / unimplemented / disabled, overall and per protocol (a test is DTLS
or QUIC when its name says so: the runner names every DTLS and QUIC test that way), then
checks the failures against the known list. Exit status 1 when a test failed that the list
does not name (a regression; their names go to OUT, one a line, for run.sh to retry), or when
the run did not complete.
"""

import json
import re
import sys


def protocol(name):
    if "QUIC" in name:
        return "QUIC"
    if "DTLS" in name:
        return "DTLS"
    return "TLS"


def main():
    results_path, log_path, known_path = sys.argv[1:4]
    rest = sys.argv[4:]
    subset = "--subset" in rest
    unexpected_out = rest[rest.index("--unexpected") + 1] if "--unexpected" in rest else None
    with open(results_path) as f:
        results = json.load(f)
    if results.get("interrupted"):
        print("BoGo: the run was interrupted")
        return 1
    tests = results["tests"]
    with open(log_path, errors="replace") as f:
        log = f.read()
    # The runner's status line: failed/unimplemented/done/started/total; disabled tests count
    # in the total but get no entry in the JSON output.
    status = re.findall(r"(\d+)/(\d+)/(\d+)/(\d+)/(\d+)", log)
    total = int(status[-1][4]) if status else len(tests)

    counts = {}
    for name, r in tests.items():
        key = (protocol(name), r["actual"])
        counts[key] = counts.get(key, 0) + 1
    label = {"PASS": "passed", "FAIL": "failed", "SKIP": "unimplemented"}

    def line(title, proto=None):
        parts = []
        for actual in ("PASS", "FAIL", "SKIP"):
            n = sum(v for (p, a), v in counts.items() if a == actual and (proto is None or p == proto))
            parts.append(f"{n} {label[actual]}")
        return f"{title}: " + ", ".join(parts)

    if subset:
        # Tests outside the -test patterns are absent from the results like disabled ones.
        print(f"BoGo: {len(tests)} of the {total} tests selected and not disabled")
    else:
        print(f"BoGo: {total} tests, {total - len(tests)} disabled by bogo/config.json")
    print(line("all"))
    for proto in ("TLS", "DTLS", "QUIC"):
        print(line(f"  {proto}", proto))

    failed = sorted(n for n, r in tests.items() if r["actual"] == "FAIL")
    known = []
    with open(known_path) as f:
        for raw in f:
            entry = raw.strip()
            if entry and not entry.startswith("#"):
                known.append(entry)
    known_set = set(known)
    new = [n for n in failed if n not in known_set]
    fixed = [n for n in known if tests.get(n, {}).get("actual") == "PASS"]
    print(f"known failures: {len(known)} listed, {len(failed) - len(new)} still fail, "
          f"{len(fixed)} now pass (remove them from {known_path})")
    for n in fixed:
        print(f"  now passes: {n}")
    if new:
        print(f"{len(new)} unexpected failures (not in {known_path}):")
        for n in new:
            print(f"  {n}")
        if unexpected_out:
            with open(unexpected_out, "w") as f:
                f.write("".join(f"{n}\n" for n in new))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
