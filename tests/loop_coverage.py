"""Which lines the fast loop executes, test by test: the rule for what it may leave to the full run.

    .venv/bin/python tests/loop_coverage.py                # the whole run but e2e, ~11 min
    .venv/bin/python tests/loop_coverage.py --fast-only    # the fast loop alone, ~2.5 min

Runs the tests in this process under coverage.py, one coverage context per test (its node id;
the AppTest page scripts' threads count for the test that runs them), and reports over
dashboard/, etl/ and pages/:

- the lines only `slow` tests execute: what the fast loop cannot see (without --fast-only);
- the fast loop's candidates for the full run: its tests of `--at-least` seconds or more every
  one of whose lines another fast test executes too. Taken from the slowest down, each one
  taken leaves the others' counts as they would be without it, so the whole list can go to the
  full run together and the fast loop still executes every line it executed.

docs/TESTING.md gives the rule this serves: a test leaves the fast loop only when it costs
seconds and the loop keeps executing every line it does. Child processes (CLI runs, console
queries, Streamlit servers) are not measured; their tests' own lines in this process are.
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MEASURED = ("dashboard", "etl", "pages")


class _PerTest:
    """pytest plugin: a coverage context per test, its duration and whether it is `slow`."""

    def __init__(self, cov):
        self.cov = cov
        self.seconds: dict[str, float] = collections.Counter()
        self.slow: set[str] = set()

    def pytest_runtest_protocol(self, item, nextitem):
        if item.get_closest_marker("slow"):
            self.slow.add(item.nodeid)
        self.cov.switch_context(item.nodeid)

    def pytest_runtest_logreport(self, report):
        self.seconds[report.nodeid] += report.duration

    def pytest_runtest_logfinish(self, nodeid, location):
        self.cov.switch_context("")


def lines_by_test(data) -> dict[str, set[tuple[str, int]]]:
    """Test node id -> the (file, line) pairs of the measured folders it executed."""
    out: dict[str, set[tuple[str, int]]] = collections.defaultdict(set)
    for path in data.measured_files():
        short = str(Path(path).relative_to(REPO))
        for line, tests in data.contexts_by_lineno(path).items():
            for test in tests:
                if test:
                    out[test].add((short, line))
    return out


def candidates(lines: dict[str, set], seconds: dict[str, float], fast: set[str],
               at_least: float) -> list[tuple[str, float]]:
    """The fast tests of `at_least` seconds or more that can leave the loop together without
    any line going unexecuted by the tests that stay (slowest first)."""
    count = collections.Counter()
    for test in fast:
        count.update(lines.get(test, ()))
    out = []
    for test in sorted(fast, key=lambda t: -seconds.get(t, 0.0)):
        if seconds.get(test, 0.0) < at_least:
            break
        own = lines.get(test, set())
        if all(count[line] > 1 for line in own):
            count.subtract(own)
            out.append((test, seconds[test]))
    return out


def main(argv: list[str] | None = None) -> int:
    import coverage
    import pytest

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fast-only", action="store_true", help="run the fast loop alone")
    ap.add_argument("--at-least", type=float, default=0.3, help="seconds (default 0.3)")
    ap.add_argument("--json", type=Path, help="also write the report here")
    args = ap.parse_args(argv)

    cov = coverage.Coverage(data_file=None, source=[str(REPO / d) for d in MEASURED],
                            concurrency=["thread"])
    plugin = _PerTest(cov)
    mark = "not slow and not e2e" if args.fast_only else "not e2e"
    started = time.monotonic()
    cov.start()
    try:
        code = pytest.main(["-q", "-m", mark, str(REPO / "tests")], plugins=[plugin])
    finally:
        cov.stop()
    if code != 0:
        print(f"the tests did not all pass (exit {code}): no report", file=sys.stderr)
        return int(code)
    lines = lines_by_test(cov.get_data())
    ran = set(plugin.seconds)
    fast = ran - plugin.slow
    in_fast = set().union(*(lines.get(t, set()) for t in fast))
    only_slow = set().union(*(lines.get(t, set()) for t in plugin.slow)) - in_fast
    picked = candidates(lines, plugin.seconds, fast, args.at_least)
    by_file = collections.Counter(path for path, _ in only_slow)

    print(f"\n{len(ran)} tests in {time.monotonic() - started:.0f} s; the fast loop's {len(fast)} "
          f"execute {len(in_fast)} lines of {', '.join(MEASURED)}")
    if not args.fast_only:
        print(f"lines only the full run's slow tests execute: {len(only_slow)}")
        for path, n in by_file.most_common():
            print(f"  {n:5d}  {path}")
    total = sum(plugin.seconds[t] for t in fast)
    print(f"fast tests of {args.at_least} s or more that could leave together, no line lost: "
          f"{len(picked)}, {sum(s for _, s in picked):.1f} of the loop's {total:.1f} s")
    for test, s in picked:
        print(f"  {s:6.2f}  {test}")
    if args.json:
        args.json.write_text(json.dumps({
            "fast_tests": len(fast), "fast_lines": len(in_fast),
            "only_slow": sorted(f"{p}:{n}" for p, n in only_slow),
            "candidates": picked, "seconds": plugin.seconds}, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
