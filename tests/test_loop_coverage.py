"""tests/loop_coverage.py: which fast tests may leave the loop together without a line going
unexecuted (its pure part; the tool itself runs the suite under coverage.py, docs/TESTING.md)."""
from __future__ import annotations

from loop_coverage import candidates

A, B, C, D = ("etl/load.py", 1), ("etl/load.py", 2), ("pages/grid.py", 7), ("dashboard/ui.py", 3)


def test_a_test_whose_lines_others_run_is_a_candidate_and_one_with_a_line_of_its_own_is_not():
    lines = {"slow_dup": {A, B}, "own_line": {A, C}, "cheap": {A, B}}
    seconds = {"slow_dup": 2.0, "own_line": 3.0, "cheap": 0.01}
    assert candidates(lines, seconds, set(lines), at_least=0.3) == [("slow_dup", 2.0)]


def test_two_tests_covering_each_other_cannot_both_leave():
    lines = {"first": {A, D}, "second": {A, D}, "other": {B}}
    seconds = {"first": 1.0, "second": 0.9, "other": 0.5}
    assert candidates(lines, seconds, set(lines), at_least=0.3) == [("first", 1.0)]


def test_only_fast_tests_count_and_the_threshold_holds():
    lines = {"fast": {A}, "slow_twin": {A}, "fast_twin": {A}}
    seconds = {"fast": 0.2, "slow_twin": 5.0, "fast_twin": 0.25}
    # the slow twin is not in the loop: neither fast test may lean on it; 0.2 s is under the bar
    assert candidates(lines, seconds, {"fast", "fast_twin"}, at_least=0.3) == []
    assert candidates(lines, seconds, {"fast", "fast_twin"}, at_least=0.1) == [("fast_twin", 0.25)]
