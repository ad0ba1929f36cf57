#!/usr/bin/env python3
"""Prints the slowest tests of a test run from its TRX files, so a CI log shows where the suite's time goes.

Usage: slowest-tests.py RESULTS_DIR [COUNT]
"""
import glob
import os
import sys
import xml.etree.ElementTree as ElementTree


def seconds(duration: str) -> float:
    hours, minutes, rest = duration.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest)


def main() -> None:
    results, count = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20
    timings = []
    for path in glob.glob(os.path.join(results, "**", "*.trx"), recursive=True):
        for result in ElementTree.parse(path).getroot().iter():
            if result.tag.endswith("UnitTestResult") and result.get("duration"):
                timings.append((seconds(result.get("duration")), result.get("outcome", "?"), result.get("testName", "?")))
    if not timings:
        print(f"slowest tests: no TRX results under {results}")
        return
    timings.sort(reverse=True)
    print(f"slowest {min(count, len(timings))} of {len(timings)} tests (seconds, outcome, name):")
    for duration, outcome, name in timings[:count]:
        print(f"{duration:8.1f}  {outcome:<8} {name[:160]}")


if __name__ == "__main__":
    main()
