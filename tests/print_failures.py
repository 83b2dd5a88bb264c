#!/usr/bin/python3
"""Reprints the failed tests of one or more meson builds at the very end of a CI log.

CI shows only the last lines of a run; meson's own error logs come mid-way, under the release build's
output, and are cut off there. This prints each failed test's name, exit code and the tail of its output.
Usage: print_failures.py BUILD_DIR [BUILD_DIR ...]
"""
import json
import pathlib
import sys

TAIL_LINES = 40
BAD = {"FAIL", "TIMEOUT", "ERROR", "UNEXPECTEDPASS"}


def main(dirs):
    failed = 0
    for d in dirs:
        log = pathlib.Path(d) / "meson-logs" / "testlog.json"
        if not log.exists():
            continue
        for line in log.read_text(errors="replace").splitlines():
            test = json.loads(line)
            if test.get("result") not in BAD:
                continue
            failed += 1
            out = (test.get("stdout") or "") + (test.get("stderr") or "")
            tail = out.rstrip().splitlines()[-TAIL_LINES:]
            print(f"== failed in {d}: {test['name']} ({test['result']}, exit code {test.get('returncode')}, "
                  f"{test.get('duration', 0):.1f} s); its last {len(tail)} lines:")
            for t in tail:
                print(f"   | {t}")
    return failed


if __name__ == "__main__":
    main(sys.argv[1:])
