"""The README's "Use it in your tests" examples, run as written."""

from __future__ import annotations

import pytest
from readme import readme_block

pytest_plugins = ["pytester"]


def test_the_pytest_example_passes(pytester: pytest.Pytester) -> None:
    example = readme_block("# test_weights.py")
    assert len(example.strip().splitlines()) <= 13
    pytester.makepyfile(test_weights=example)
    pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_the_pytest_example_fails_when_the_data_differ(pytester: pytest.Pytester) -> None:
    example = readme_block("# test_weights.py").replace('"weight": "70"}])', '"weight": "71"}])')
    pytester.makepyfile(test_weights=example)
    pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider").assert_outcomes(failed=1)
